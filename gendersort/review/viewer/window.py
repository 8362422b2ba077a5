"""`gendersort view`: a desktop window to look at one photo at a time, its faces boxed and described.

Browse to any photo or folder (o, f), step through a folder with the arrow keys, and read one sentence per
face ("It is very likely a woman, 97.2%"). The analysis lives in analysis.py, apart from the widgets,
so it is tested without a display; the window is tested under Xvfb.
"""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import filedialog

from PIL import Image, ImageTk

from gendersort.errors import FatalError
from gendersort.models.registry import DEFAULT_MODEL
from gendersort.photos.walk import IMAGE_SUFFIXES
from gendersort.pipeline.analysis import FaceAnalyzer
from gendersort.pipeline.api import shared_analyzer
from gendersort.review.viewer.analysis import PhotoAnalysis, analyze_photo
from gendersort.review.viewer.folder import neighbour, photos_in

BOX_COLOUR = "#ffd400"
PREVIEW_SIDE = 2048  # the copy kept for redrawing at window size; finer than any screen shows a photo
HELP = "\u2190 / \u2192 previous / next    o open a photo    f open a folder    q quit"


class ViewerApp:
    """The window: toolbar, the photo on a canvas with its face boxes, and the sentences beside it."""

    def __init__(self, root: tk.Tk, analyzer: FaceAnalyzer, start_path: str | Path | None = None) -> None:
        self.root = root
        self.analyzer = analyzer
        self.photos: list[Path] = []
        self.analysis: PhotoAnalysis | None = None
        self._preview: Image.Image | None = None
        self._shown: ImageTk.PhotoImage | None = None  # Tk draws it only while Python holds a reference
        self._redraw_pending: str | None = None
        root.title("gendersort view")
        root.geometry("1100x720")
        self._build_widgets()
        self._bind_keys()
        if start_path:
            self.open_path(Path(start_path))

    def _build_widgets(self) -> None:
        toolbar = tk.Frame(self.root)
        toolbar.pack(side=tk.TOP, fill=tk.X, padx=6, pady=4)
        buttons = (("Open photo\u2026", self.ask_photo), ("Open folder\u2026", self.ask_folder),
                   ("\u25c0 Previous", lambda: self.step(-1)), ("Next \u25b6", lambda: self.step(1)))
        for text, command in buttons:
            tk.Button(toolbar, text=text, command=command, takefocus=False).pack(side=tk.LEFT, padx=2)
        self.position_label = tk.Label(toolbar, anchor="w")
        self.position_label.pack(side=tk.LEFT, padx=10, fill=tk.X, expand=True)
        tk.Label(self.root, text=HELP, fg="#555").pack(side=tk.BOTTOM, fill=tk.X)
        self.result_label = tk.Label(self.root, text="Press o to open a photo, f to open a folder.",
                                     width=28, wraplength=330, justify=tk.LEFT, anchor="nw",
                                     font=("TkDefaultFont", 14), padx=12, pady=12)
        self.result_label.pack(side=tk.RIGHT, fill=tk.Y)
        self.canvas = tk.Canvas(self.root, background="#222", highlightthickness=0)
        self.canvas.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
        self.canvas.bind("<Configure>", lambda _event: self._schedule_redraw())

    def _bind_keys(self) -> None:
        for key, action in (("<Left>", lambda: self.step(-1)), ("<Right>", lambda: self.step(1)),
                            ("o", self.ask_photo), ("f", self.ask_folder),
                            ("q", self.root.destroy), ("<Escape>", self.root.destroy)):
            self.root.bind(key, lambda _event, action=action: action())

    def open_path(self, path: Path) -> None:
        """Show a photo (its folder becomes the one to step through) or a folder's first photo."""
        path = path.expanduser().resolve()
        folder = path if path.is_dir() else path.parent
        self.photos = photos_in(folder)
        if path.is_dir():
            if self.photos:
                self.show(self.photos[0])
            else:
                self._say(f"No photos in {folder}")
            return
        if path not in self.photos:  # a file whose suffix the listing does not know: still show it
            self.photos = sorted([*self.photos, path])
        self.show(path)

    def show(self, path: Path) -> None:
        self.root.config(cursor="watch")
        self.root.update_idletasks()
        self.analysis = analyze_photo(self.analyzer, path)
        self.root.config(cursor="")
        self._preview = None
        if self.analysis.image is not None:
            self._preview = self.analysis.image.copy()
            self._preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        self.root.title(f"gendersort view \u2014 {path.name}")
        self.position_label.config(text=f"{self.photos.index(path) + 1} / {len(self.photos)}    {path}")
        self.result_label.config(text="\n\n".join(self.analysis.lines))
        self._redraw()

    def step(self, offset: int) -> None:
        if self.analysis is not None and self.photos:
            self.show(neighbour(self.photos, self.analysis.path, offset))

    def ask_photo(self) -> None:
        patterns = " ".join(f"*{suffix} *{suffix.upper()}" for suffix in sorted(IMAGE_SUFFIXES))
        chosen = filedialog.askopenfilename(parent=self.root, title="Open a photo",
                                            filetypes=[("Photos", patterns), ("All files", "*")])
        if chosen:
            self.open_path(Path(chosen))

    def ask_folder(self) -> None:
        chosen = filedialog.askdirectory(parent=self.root, title="Open a folder of photos", mustexist=True)
        if chosen:
            self.open_path(Path(chosen))

    def _say(self, text: str) -> None:
        self.analysis = None
        self._preview = None
        self.result_label.config(text=text)
        self._redraw()

    def _schedule_redraw(self) -> None:
        """Coalesce the burst of <Configure> events a window resize sends into one redraw."""
        if self._redraw_pending is None:
            self._redraw_pending = self.root.after(40, self._redraw)

    def _redraw(self) -> None:
        """Fit the photo into the canvas and draw each face box, numbered when there are several."""
        if self._redraw_pending is not None:
            self.root.after_cancel(self._redraw_pending)
            self._redraw_pending = None
        self.canvas.delete("all")
        if self._preview is None or self.analysis is None or self.analysis.image is None:
            return
        width, height = max(self.canvas.winfo_width(), 1), max(self.canvas.winfo_height(), 1)
        full_width, full_height = self.analysis.image.size
        scale = min(width / full_width, height / full_height)
        size = (max(round(full_width * scale), 1), max(round(full_height * scale), 1))
        left, top = (width - size[0]) // 2, (height - size[1]) // 2
        self._shown = ImageTk.PhotoImage(self._preview.resize(size, Image.Resampling.BILINEAR))
        self.canvas.create_image(left, top, image=self._shown, anchor="nw", tags="photo")
        numbered = len(self.analysis.faces) > 1
        for number, face in enumerate(self.analysis.faces, 1):
            x0, y0, x1, y1 = (left + face.box[0] * scale, top + face.box[1] * scale,
                              left + face.box[2] * scale, top + face.box[3] * scale)
            self.canvas.create_rectangle(x0, y0, x1, y1, outline=BOX_COLOUR, width=3, tags="face")
            if numbered:
                self.canvas.create_text(x0 + 4, y0 + 2, text=str(number), anchor="nw", fill=BOX_COLOUR,
                                        font=("TkDefaultFont", 14, "bold"), tags="number")


def run_viewer(path: str | None = None, device: str = "auto", model: str = DEFAULT_MODEL) -> None:
    """Open the window (on `path` if given: a photo or a folder) and run until it is closed."""
    open_window(path, device, model).root.mainloop()


def open_window(path: str | None = None, device: str = "auto", model: str = DEFAULT_MODEL) -> ViewerApp:
    """The window with the models for `device` and the classifier `model` (models/registry.py), showing
    `path`; Tk's event loop not yet run."""
    try:
        root = tk.Tk()
    except tk.TclError as error:  # no X display: say so in one line, not a traceback
        raise FatalError(f"cannot open a window ({error}); gendersort view needs a desktop") from error
    return ViewerApp(root, shared_analyzer(device, model=model), path)
