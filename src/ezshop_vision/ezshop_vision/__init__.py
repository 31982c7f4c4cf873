"""Cameras (OpenCV), face detection, tracking and identification (face_recognition), entry/exit
door decisions and enrolment."""
