"""Animations written to GIF (pillow's GIF encoder) or MP4 (PyAV, H.264), frame by frame, all-or-nothing.

``AnimationWriter`` takes RGB frames of one size as they are drawn, and each one is encoded and written to the file
at once: nothing grows with the number of frames. An MP4 frame goes to PyAV's encoder. A GIF frame is mapped to a
shared palette of 255 colours (pillow's maximum-coverage palette, made from the first frame and remade when a
frame's colours drift from it; mapping a frame takes 2-3 ms here, where imageio's pillow writer makes a median-cut
palette for every frame, 67 ms, and would miss the 10 s budget of a 200-step race; on charts, maximum coverage also
keeps the white background and the flat colours exact where median cut and octree average them away; a shared
palette keeps colours steady and the GIF's frame differences small). Pillow's GIF writer (``getheader`` for the
file's header with the first palette and the loop, its frame writer for each frame, LZW-compressed) then writes only
the rectangle that changed since the previous frame, its unchanged pixels as the transparent index 255, as
``save_all`` with ``optimize`` does, with its own colour table when its palette is not the first one. Only the
previous frame's palette indices (one byte per pixel) are kept. ``save_all`` itself is not used: it takes every
frame before writing the first and holds them all at one byte per pixel (5,000 frames of 960x600: 2.9 GB).
Files are read back with imageio and PyAV (tests). The file is written under a temporary name beside the target
and renamed into place by engine.io.atomic_path when the last frame is in, so a stopped or failed export leaves
nothing under the final name. Every failure (a bad path, a full disk) is a UserError naming the path, with
``field`` "animate".

``encode_job`` drives a writer from any iterable of frames as an engine-style job (yields progress, checks a
Token); ``figure_frames`` draws a gui.charts.figures figure at each state of a schedule, the same figure class
that writes the still PNGs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.animation import animation_format, check_fps
from engine.errors import UserError
from engine.io import atomic_path, check_output_file

FIELD = "animate"
GIF_PALETTE_ERROR = 1.0  # mean error (0..255) past which a GIF frame gets a new palette
TRANSPARENT = 255  # the palette index of a GIF frame's unchanged pixels (a palette's 255 colours are 0..254)
MP4_CRF = 18  # x264 quality: 18 is visually lossless for charts; lower only makes larger files


@dataclass(frozen=True)
class Progress:
    """How far an export is: frames written of frames in all."""

    done: int
    count: int


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


class AnimationWriter:
    """A GIF or MP4 being written: ``add(rgb)`` per frame, then ``finish()`` (or ``abort()``); also a context
    manager that finishes on success and aborts on an exception.

    ``size`` is (width, height); every frame must be a (height, width, 3) uint8 array. Raises UserError
    (field "animate") for an unknown extension, a path that cannot be written, or a failed write.
    """

    def __init__(self, path: str | Path, fps: int, size: tuple[int, int], field: str = FIELD):
        self.field = field
        self.suffix = animation_format(path, field)
        self.fps = check_fps(fps, self.suffix, "fps")
        self.path = check_output_file(path, field)
        if not self.path.absolute().parent.is_dir():
            raise UserError(f"cannot write {self.path}: folder {self.path.absolute().parent} does not exist", field)
        self.size = (int(size[0]), int(size[1]))
        if self.suffix == ".mp4" and (self.size[0] % 2 or self.size[1] % 2):
            raise UserError(f"MP4 needs even sides, not {self.size[0]}x{self.size[1]}", "size")
        self.frames = 0
        self._stack = contextlib.ExitStack()
        try:
            self.tmp = self._stack.enter_context(atomic_path(self.path))
            self._open()
        except OSError as err:
            self._stack.close()
            raise self._error(err) from None

    def _error(self, err: BaseException) -> UserError:
        return UserError(f"cannot write {self.path}: {_reason(err)}", self.field)

    def _open(self) -> None:
        if self.suffix == ".gif":
            self._palette = None  # a 1x1 pillow "P" image holding the current palette (255 colours)
            self._palettes = 0  # how many palettes the frames so far have used
            self._previous: tuple | None = None  # the last frame's palette indices, colours and palette number
            self._file = open(self.tmp, "wb")  # noqa: SIM115 — closed by finish or abort
        else:
            import av

            self._mp4 = av.open(str(self.tmp), mode="w", format="mp4")
            stream = self._mp4.add_stream("libx264", rate=self.fps)
            stream.width, stream.height = self.size
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(MP4_CRF), "preset": "veryfast"}
            self._stream = stream

    def add(self, rgb: np.ndarray) -> None:
        """Encode one (height, width, 3) uint8 RGB frame; returns nothing (UserError when it cannot be written)."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if rgb.shape != (self.size[1], self.size[0], 3):
            raise ValueError(f"frame of shape {rgb.shape}, expected {(self.size[1], self.size[0], 3)}")
        try:
            if self.suffix == ".gif":
                self._add_gif(rgb)
            else:
                import av

                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                for packet in self._stream.encode(frame):
                    self._mp4.mux(packet)
        except OSError as err:
            self.abort()
            raise self._error(err) from None
        self.frames += 1

    def finish(self) -> Path:
        """Close the encoder and move the file into place; return its path (UserError when it cannot be written)."""
        if not self.frames:
            self.abort()
            raise UserError(f"cannot write {self.path}: there is no frame to write", self.field)
        try:
            if self.suffix == ".gif":
                self._write([b";"])  # the GIF trailer
                self._file.close()
            else:
                for packet in self._stream.encode():
                    self._mp4.mux(packet)
                self._mp4.close()
            with open(self.tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            self._stack.close()  # the rename
        except OSError as err:
            self.abort()
            raise self._error(err) from None
        return self.path

    def _indexed(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Return the frame as (its palette indices, the palette's 256 colours, the palette's number).

        Frames share the palette of the last frame that needed a new one: steady colours and small differences
        between frames. A frame whose colours it misses (mean error over GIF_PALETTE_ERROR, from a sample of
        its pixels: new colours, say a confusion matrix filling in) gets its own, which the next ones then share.
        A palette has 255 colours: index TRANSPARENT marks the pixels a frame leaves as they were.
        """
        from PIL import Image

        image = Image.fromarray(rgb)
        for attempt in (0, 1):
            if attempt or self._palette is None:
                made = image.quantize(TRANSPARENT, Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
                self._palette = Image.new("P", (1, 1))
                self._palette.putpalette(made.getpalette()[: 3 * TRANSPARENT])
                self._palettes += 1
            indices = np.array(image.quantize(palette=self._palette, dither=Image.Dither.NONE))
            colours = np.zeros((256, 3), np.uint8)
            known = np.frombuffer(bytes(self._palette.getpalette()), np.uint8).reshape(-1, 3)[:TRANSPARENT]
            colours[: len(known)] = known
            colours[TRANSPARENT] = colours[0]  # so that a pixel pillow maps there is colours[0], and can be moved
            indices[indices == TRANSPARENT] = 0
            sample = indices[::3, ::3]
            error = np.abs(colours[sample].astype(np.int16) - rgb[::3, ::3]).mean()
            if error <= GIF_PALETTE_ERROR or attempt:
                break
        return indices, colours, self._palettes - 1

    def _add_gif(self, rgb: np.ndarray) -> None:
        """Write one frame: the rectangle that changed since the previous frame, its unchanged pixels transparent
        (long runs of one index, which LZW compresses to almost nothing), as pillow's save_all does."""
        from PIL import GifImagePlugin, Image

        indices, colours, number = self._indexed(rgb)
        # a colour table of its own, in GIF terms local, for any palette after the first one
        params = {"duration": self._duration(), "include_color_table": number > 0}
        offset, part = (0, 0), indices
        if self._previous is None:
            first = Image.frombytes("P", self.size, indices.tobytes())
            first.putpalette(colours.tobytes())
            self._write(GifImagePlugin.getheader(first, None, {"loop": 0, "duration": self._duration()})[0])
        else:
            before, before_colours, before_number = self._previous
            if before_number == number:
                changed = indices != before
            else:
                changed = (colours[indices] != before_colours[before]).any(axis=2)
            rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            if rows.size:
                box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
                offset = (int(cols[0]), int(rows[0]))
                part = np.where(changed[box], indices[box], np.uint8(TRANSPARENT))
                params["transparency"] = TRANSPARENT
            else:  # an unchanged frame is still a frame (the count is the schedule's): one pixel, written again
                part = indices[:1, :1]
        self._previous = (indices, colours, number)
        image = Image.frombytes("P", (part.shape[1], part.shape[0]), np.ascontiguousarray(part).tobytes())
        image.putpalette(colours.tobytes())
        # pillow's frame writer is called directly: its public wrapper, getdata, collects the bytes in a class it
        # makes per call, which only the cycle collector frees (the window runs that one on a timer): ~2 kB a frame
        GifImagePlugin._write_frame_data(self._file, image, offset, params)

    def _duration(self) -> int:
        return round(1000 / self.fps)

    def _write(self, chunks) -> None:
        self._file.writelines(chunks)

    def abort(self) -> None:
        """Drop the export: close the encoder and remove the temporary file; the final name is untouched."""
        with contextlib.suppress(Exception):
            if self.suffix == ".gif":
                self._file.close()
            else:
                self._mp4.close()
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)
        with contextlib.suppress(Exception):
            self._stack.close()

    def __enter__(self) -> AnimationWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def encode_job(
    frames: Iterable[np.ndarray], path: str | Path, fps: int, size: tuple[int, int], count: int, token=None
) -> Generator[Progress, None, Path | None]:
    """Write ``frames`` (RGB arrays, drawn lazily) to ``path`` as a job; yields Progress after each frame.

    Returns the path written, or None when ``token`` stopped it (then nothing is left under any name).
    """
    writer = AnimationWriter(path, fps, size)
    try:
        for frame in frames:
            if token is not None and token.checkpoint():
                writer.abort()
                return None
            writer.add(frame)
            yield Progress(writer.frames, count)
        if token is not None and token.stopped:
            writer.abort()
            return None
    except BaseException:
        writer.abort()
        raise
    return writer.finish()


def figure_frames(figure, states: Iterable, settle=None) -> Generator[np.ndarray, None, None]:
    """Yield the figure drawn at each state (``figure.show(state)``) as an RGB array.

    ``settle``: a state drawn once, unseen, before the first frame, when the last state is known: the figure's
    first drawing fixes the widths its axes and titles take (they grow at once but shrink only by 10 pixels or
    more), so laying it out at its last state makes the last frame the same picture as a still of that state.
    """
    if settle is not None:
        figure.show(settle)
        figure.qimage()
    for state in states:
        figure.show(state)
        yield figure.image()


def export_animation(
    figure, states: Iterable, count: int, path, fps: int, token=None, on_progress=None, settle=None
) -> Path | None:
    """Draw ``figure`` at each of ``states`` and write the frames to ``path``; return it (None when stopped).

    ``settle``: the last state, when known (see figure_frames)."""
    job = encode_job(figure_frames(figure, states, settle=settle), path, fps, figure.size, count, token)
    while True:
        try:
            progress = next(job)
        except StopIteration as end:
            return end.value
        if on_progress is not None:
            on_progress(progress)
