// Face login: one frame of the browser camera to /me/face; the server decides.
'use strict';

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const video = document.getElementById('camera');
const message = document.getElementById('face-message');

async function startCamera() {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (err) {
    message.textContent = 'No camera: allow this page to use the camera, then reload.';
    message.className = 'error';
  }
}

function frameBlob() {
  const canvas = document.getElementById('frame');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92));
}

document.getElementById('face-button').addEventListener('click', async () => {
  if (!video.videoWidth) {
    message.textContent = 'The camera is not ready yet.';
    return;
  }
  // Asked on a click, as browsers require: the exit notice needs it.
  if ('Notification' in window && Notification.permission === 'default') {
    Notification.requestPermission();
  }
  message.textContent = 'Checking…';
  message.className = '';
  const response = await fetch('/me/face', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'image/jpeg', 'X-CSRF-Token': CSRF },
    body: await frameBlob(),
  });
  const answer = await response.json();
  if (answer.ok) {
    window.location.reload();
  } else {
    message.textContent = answer.message;
    message.className = 'error';
  }
});

startCamera();
