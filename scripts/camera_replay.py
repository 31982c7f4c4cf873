"""Replay one camera of a simulated scenario through the face pipeline beside the truth.

For each frame between two scenario times it prints where the world puts every shopper (name,
face centre x,y and size, R = reaching, away = looking away) and what the face pipeline made of
the frame (track:name@x,y,size; ? = unknown, ~ = followed by template, not detected). This is
how crowd failures of the hard bench were found: run the failing scenario's YAML (kept in the
bench's work folder) and look at the seconds before the wrong or held pick.

    scripts/run python scripts/camera_replay.py SCENARIO.yaml cam_shelf_b 29 32
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from ezshop_common.paths import config_dir
from ezshop_common.store_config import Camera, load_store
from ezshop_sim.photos import enrolment_photos, identities_dir, split_photos
from ezshop_sim.render import FrameRenderer
from ezshop_sim.scenario import load_scenario
from ezshop_sim.world import build_world
from ezshop_testing.param_files import node_parameters
from ezshop_vision.enrollment import Person, make_engine, person_embeddings
from ezshop_vision.face_engine import FaceEngine, FaceEngineSettings
from ezshop_vision.face_pipeline import FacePipeline, PipelineSettings
from ezshop_vision.gallery import Gallery, MatchPolicy
from ezshop_vision.second_look import SecondLookSettings, second_look_for
from ezshop_vision.tracker import TrackerSettings
from ezshop_vision.visit_memory import VisitMemory, VisitMemorySettings

ROOT = Path(__file__).resolve().parent.parent
#: Frames before the first printed one, so tracks and votes are as they were in the run.
WARM_UP_S = 3.0


def settings_from(settings_type: type, p: dict):
    """A core settings dataclass from face_node's parameters, as the node declares them
    (fields the file leaves out keep their defaults)."""
    return settings_type(**{f.name: p[f.name] for f in fields(settings_type) if f.name in p})


def face_node_settings(path: Path) -> dict:
    """The face_node parameters of a vision.yaml."""
    return node_parameters(path)['face_node']


def build_engine(p: dict) -> FaceEngine:
    """A face engine as each of face_node's workers has (detector and alignment models)."""
    settings = settings_from(FaceEngineSettings, p)
    return FaceEngine(settings.detector, landmarks=settings.landmark_model)


def build_pipeline(p: dict, engine: FaceEngine, gallery: Gallery,
                   visit_memory: VisitMemory | None = None, camera_id: str = '',
                   camera: Camera | None = None) -> FacePipeline:
    """One camera's pipeline as face_node builds it (cameras of one node share the memory;
    a shelf camera of the store file gets the second look)."""
    second_look = second_look_for(camera, settings_from(SecondLookSettings, p))
    return FacePipeline(engine, settings_from(PipelineSettings, p),
                        settings_from(MatchPolicy, p), gallery, settings_from(TrackerSettings, p),
                        visit_memory=visit_memory, camera_id=camera_id,
                        second_look=second_look)


def build_visit_memory(p: dict) -> VisitMemory:
    """The visit memory a face node with these parameters shares between its cameras."""
    return VisitMemory(settings_from(VisitMemorySettings, p))


def enrolled_gallery(scenario, folder: Path) -> Gallery:
    """The enrolled shoppers' gallery, as the referee enrols them (same engine and checks)."""
    engine = make_engine()
    gallery = Gallery()
    for identity, photos in enrolment_photos(scenario, folder).items():
        embeddings, _ = person_embeddings(engine, Person(identity, tuple(photos)))
        if len(embeddings):
            gallery.add(identity, embeddings, identity)
    return gallery


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('scenario', help='scenario YAML (or a shipped scenario name)')
    parser.add_argument('camera', help='camera id, e.g. cam_shelf_b')
    parser.add_argument('start_s', type=float, help='first scenario time to print (s)')
    parser.add_argument('end_s', type=float, help='last scenario time to print (s)')
    parser.add_argument('--fps', type=float, default=10.0, help='frames per second (default 10)')
    parser.add_argument('--faces-subdir', default='dev')
    parser.add_argument('--vision-config', type=Path, default=config_dir() / 'vision.yaml')
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)
    store = load_store(None)
    folder = identities_dir(None, args.faces_subdir)
    photos = {i: list(split_photos(folder, i).appearance) for i in scenario.identities}
    world = build_world(scenario, store, photos)
    renderer = FrameRenderer(world, scenario.seed)
    params = face_node_settings(args.vision_config)
    engine = build_engine(params)
    pipeline = build_pipeline(params, engine, enrolled_gallery(scenario, folder))

    first = max(0.0, args.start_s - WARM_UP_S)
    frames = int(round((args.end_s - first) * args.fps)) + 1
    for frame_index in range(frames):
        t = round(first + frame_index / args.fps, 6)
        image = renderer.render(args.camera, t, frame_index)
        results = pipeline.process(image[:, :, ::-1].copy(), stamp=t)
        if t >= args.start_s:
            truth = []
            for view, (x, y, size) in world.in_view(args.camera, t):
                reaching = ' R' if any(a <= t < b for a, b in view.reaching) else ''
                away = ' away' if view.looks_away(t) else ''
                truth.append(f'{view.identity}@{x:.0f},{y:.0f},{size:.0f}{reaching}{away}')
            seen = [f'{r.track_id}:{r.customer_id or "?"}@{r.box.center[0]:.0f},'
                    f'{r.box.center[1]:.0f},{r.box.height:.0f}{"" if r.detected else "~"}'
                    for r in results]
            print(f'{t:6.1f} truth [{" | ".join(truth)}]  seen [{" ".join(seen)}]')
    return 0


if __name__ == '__main__':
    sys.exit(main())
