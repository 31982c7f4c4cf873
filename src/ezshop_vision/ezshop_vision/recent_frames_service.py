"""cameras/<camera_id>/recent_frames (ezshop_msgs/GetRecentFrames): both ends.

The camera (camera_node, sim_node) keeps its recent past (recent_frames.RecentFrames) and
serves it with RecentFramesServer; a face node that restarted fetches it page by page with
fetch_recent_frames and processes it before the live stream (face_node catch_up_s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rclpy.client import Client
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage

from ezshop_msgs.srv import GetRecentFrames
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_vision.image_conversion import decode_jpeg
from ezshop_vision.recent_frames import MAX_PAGE, RecentFrames

#: The service of one camera (relative: the node's namespace applies).
RECENT_FRAMES_SERVICE = 'cameras/{camera}/recent_frames'


class RecentFramesServer:
    """Serves one camera's RecentFrames; counts what it served and refused (diagnostics)."""

    def __init__(self, node: Node, camera_id: str, frame_id: str, recent: RecentFrames):
        self.frame_id = frame_id
        self.recent = recent
        self.pages_served = 0
        self.frames_served = 0
        self.refused = 0
        self._logger = node.get_logger()
        node.create_service(GetRecentFrames, RECENT_FRAMES_SERVICE.format(camera=camera_id),
                            self._on_request)

    def _on_request(self, request: GetRecentFrames.Request,
                    response: GetRecentFrames.Response) -> GetRecentFrames.Response:
        if request.max_frames > MAX_PAGE:
            self.refused += 1
            response.success = False
            response.message = f'max_frames {request.max_frames} is above the page of {MAX_PAGE}'
            self._logger.warning(f'recent_frames refused: {response.message}',
                                 throttle_duration_sec=5.0)
            return response
        frames, response.more = self.recent.page(stamp_ns(request.after), request.max_frames)
        for frame in frames:
            image = CompressedImage(format='jpeg', data=frame.jpeg)
            image.header.stamp = time_from_ns(frame.stamp_ns)
            image.header.frame_id = self.frame_id
            response.frames.append(image)
        response.success = True
        self.pages_served += 1
        self.frames_served += len(frames)
        return response


@dataclass(frozen=True)
class PastFrame:
    """A frame of a camera's recent past, decoded."""

    stamp_ns: int
    frame_id: str
    bgr: np.ndarray


@dataclass(frozen=True)
class Page:
    frames: list[PastFrame]
    more: bool
    undecodable: int  # frames whose bytes were not an image (left out)


class RecentFramesError(RuntimeError):
    """The camera refused, or did not answer in time."""


def fetch_page(client: Client, after_ns: int, timeout_s: float) -> Page:
    """The next page of frames stamped after after_ns. Call from a thread other than the
    executor's (it waits for the answer)."""
    request = GetRecentFrames.Request(after=time_from_ns(max(after_ns, 0)), max_frames=MAX_PAGE)
    try:
        response = client.call(request, timeout_sec=timeout_s)
    except TimeoutError:
        raise RecentFramesError(f'no answer within {timeout_s:g} s') from None
    if response is None or not response.success:
        raise RecentFramesError(response.message if response is not None else 'no answer')
    frames, undecodable = [], 0
    for image in response.frames:
        bgr = decode_jpeg(bytes(image.data))
        if bgr is None:
            undecodable += 1
            continue
        frames.append(PastFrame(stamp_ns(image.header.stamp), image.header.frame_id, bgr))
    return Page(frames, response.more, undecodable)
