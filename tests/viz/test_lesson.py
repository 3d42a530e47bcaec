"""viz.export_lesson: one offline page; in a real browser, frame k highlights the step the engine
ran k-th, and the chosen parameter's ∂J/∂w is the one shown."""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import urllib.parse
from html.parser import HTMLParser

import pytest

import autograd_core as ag
import viz
from tests.viz import corpus

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")
CHROMIUM = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(c)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed: `make test` installs Debian's chromium "
    "with apt when run as root (or: sudo apt-get install chromium)")


class _Page(HTMLParser):
    """The page's frames (index, data-current, hidden), its node <g>s and its explanations."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[dict] = []
        self.explanations: list[dict] = []
        self.body: dict = {}
        self.external: list[str] = []
        self._frame = None
        self._g: dict | None = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href", "xlink:href"):
            if key in a and not a[key].startswith("#"):
                self.external.append(a[key])
        if tag == "link":
            self.external.append(str(a))
        if tag == "body":
            self.body = a
        if tag == "div" and "frame" in a.get("class", "").split():
            self._frame = dict(a, nodes=[])
            self.frames.append(self._frame)
        if tag == "pre" and "explanation" in a.get("class", ""):
            self.explanations.append(dict(a, text=""))
        if tag == "g" and self._frame is not None:
            self._g = None
            if "node" in a.get("class", "").split():
                self._g = {"class": a["class"], "title": ""}
                self._frame["nodes"].append(self._g)
        self._in_title = tag == "title" and self._g is not None

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self._g["title"] += data
        elif self.explanations and "text" in self.explanations[-1] and \
                self.lasttag == "pre":
            self.explanations[-1]["text"] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _engine_frames(J, page_ids: set[str]) -> list[str]:
    """The inverse nodes in the order the engine runs their ops (an observer on a real
    backward), a fused layer's ψ' before its double weighted output."""
    order: list = []
    with ag.add_observer(lambda step: order.append(step.node)):
        J.backward(retain_graph=True)
    found: list[str] = []
    for node in order:
        for node_id in (f"inv{id(node)}", f"invlin{id(node)}"):
            if node_id in page_ids and node_id not in found:
                found.append(node_id)
    return found


@pytest.fixture
def lesson(tmp_path):
    J, names, model = corpus.course_232_nn()
    path = viz.export_lesson(J, tmp_path / "lesson.html", names=names, model=model, lang="es")
    return J, path


@needs_dot
def test_the_page_is_one_offline_file(lesson):
    _, path = lesson
    text = open(path, encoding="utf-8").read()
    page = _parse(text)
    assert page.external == []
    assert not re.search(r"url\(\s*['\"]?https?:|@import|<iframe|<img", text)
    assert os.listdir(os.path.dirname(path)) == ["lesson.html"]         # no temporary file left


@needs_dot
def test_frames_follow_the_engines_order(lesson):
    J, path = lesson
    page = _parse(open(path, encoding="utf-8").read())
    current = [f["data-current"] for f in page.frames]
    assert current[0] == "unit"
    assert current[1:] == _engine_frames(J, set(current))
    assert len(current) == 5                     # unit, L', δ⁽²⁾ step, ψ', δ⁽¹⁾ step


@needs_dot
def test_each_parameter_has_its_explanation(lesson):
    J, path = lesson
    page = _parse(open(path, encoding="utf-8").read())
    params = [e["data-param"] for e in page.explanations]
    assert params == ["W⁽¹⁾", "b⁽¹⁾", "W⁽²⁾", "b⁽²⁾"]
    w1 = page.explanations[0]["text"]
    # W⁽¹⁾'s largest |∂J/∂w| is at (0, 0): 3.857 (course 000's δ⁽¹⁾₁·x₁)
    assert "Suma sobre los caminos: ∂J/∂W⁽¹⁾₁,₁ = 3.857" in w1


def _url(path) -> str:
    """The lesson page's file:// address."""
    return "file://" + urllib.parse.quote(os.path.abspath(path))


def _dom(url: str, screenshot: str | None = None) -> str:
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",         # nothing can be fetched
            "--virtual-time-budget=3000", "--window-size=1400,1500"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run(args + [url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@needs_dot
@needs_chromium
def test_in_a_browser_frame_k_highlights_the_kth_engine_step(lesson, tmp_path):
    J, path = lesson
    page = _parse(open(path, encoding="utf-8").read())
    expected = ["unit"] + _engine_frames(J, {f["data-current"] for f in page.frames})
    url = _url(path)
    for k, node_id in enumerate(expected):
        dom = _parse(_dom(f"{url}#frame={k}"))
        assert dom.body.get("data-frame") == str(k)
        shown = [f for f in dom.frames if "hidden" not in f]
        assert [f["data-index"] for f in shown] == [str(k)]
        marked = [n["title"] for n in shown[0]["nodes"] if "current" in n["class"].split()]
        assert marked == [node_id], (k, marked)
        _dom(f"{url}#frame={k}", screenshot=str(tmp_path / f"frame_{k}.png"))
        assert os.path.getsize(tmp_path / f"frame_{k}.png") > 10_000


@needs_dot
@needs_chromium
def test_in_a_browser_the_chosen_parameter_is_explained(lesson):
    _, path = lesson
    url = _url(path)
    dom = _parse(_dom(f"{url}#frame=2&param=" + urllib.parse.quote("b⁽²⁾")))
    shown = [e["data-param"] for e in dom.explanations if "hidden" not in e]
    assert shown == ["b⁽²⁾"] and dom.body.get("data-param") == "b⁽²⁾"
    assert dom.body.get("data-frame") == "2"


@needs_dot
def test_the_update_step_is_the_optimizers_next_step(tmp_path):
    import numpy as np

    import optim

    J, names, model = corpus.course_232_nn()
    opt = optim.Adam(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"export_lesson: the update step reads the parameters' "
                                         r"\.grad, and W⁽¹⁾, b⁽¹⁾, W⁽²⁾, b⁽²⁾ have none"):
        viz.export_lesson(J, tmp_path / "l.html", names=names, model=model, optimizer=opt)
    J.backward(retain_graph=True)
    before = [p.numpy().copy() for p in model.parameters()]
    path = viz.export_lesson(J, tmp_path / "l.html", names=names, model=model, optimizer=opt)
    text = open(path, encoding="utf-8").read()
    update = html.unescape(text[text.index('<section id="update">'):])
    assert all(np.array_equal(p.numpy(), b) for p, b in zip(model.parameters(), before))
    opt.step()                                  # Adam's first step: w − 0.1·sign(g) (|g| ≫ ε)
    for p in model.parameters():                # every row of every w_{t+1}, as the SVG writes it
        for row in np.atleast_2d(p.numpy()):
            shown = "[" + ", ".join(f"{v:.4g}" for v in row) + "]" if p.ndim == 2 else \
                f"{row[0]:.4g}"
            assert f">{shown}</text>" in update, shown


@needs_dot
@needs_chromium
def test_in_a_browser_an_unknown_parameter_shows_the_first(lesson):
    _, path = lesson
    url = _url(path)
    dom = _parse(_dom(f"{url}#param=" + urllib.parse.quote("W⁽⁹⁾")))
    assert [e["data-param"] for e in dom.explanations if "hidden" not in e] == ["W⁽¹⁾"]


# --- bad input, files, sizes ---------------------------------------------------------------------
def test_bad_arguments_are_named(tmp_path):
    J, names, model = corpus.course_232_nn()
    w = ag.tensor(1.0, requires_grad=True)
    page = tmp_path / "l.html"
    for call, error, message in [
            (lambda: viz.export_lesson(3.0, page), TypeError,
             r"export_lesson: output must be the scalar cost J \(a Tensor\), got float"),
            (lambda: viz.export_lesson(J * ag.ones(2), page), ValueError,
             r"export_lesson: the output must be a scalar cost J, got shape \(2,\)"),
            (lambda: viz.export_lesson(w, page), ValueError,
             "export_lesson: the output has no recorded graph"),
            (lambda: viz.export_lesson(J, 3), TypeError,
             "export_lesson: path must be a str or os.PathLike"),
            (lambda: viz.export_lesson(J, page, title=3), TypeError,
             "export_lesson: title must be a str, got int"),
            (lambda: viz.export_lesson(J, page, max_nodes=-1), ValueError,
             "export_lesson: max_nodes must be at least 0"),
            (lambda: viz.export_lesson(J, tmp_path / "no" / "l.html"), FileNotFoundError,
             r"export_lesson: cannot write '.*/no/l.html': the folder '.*/no' does not exist"),
            (lambda: viz.export_lesson(J, tmp_path), IsADirectoryError,
             "export_lesson: cannot write .*: it is a folder")]:
        with pytest.raises(error, match=message):
            call()
    assert os.listdir(tmp_path) == []


@needs_dot
def test_the_page_is_written_atomically_through_a_symlink(tmp_path, monkeypatch):
    J, names, model = corpus.course_232_nn()
    target = tmp_path / "page.html"
    target.write_text("old page")
    (tmp_path / "link.html").symlink_to(target)
    viz.export_lesson(J, tmp_path / "link.html", names=names, model=model)
    assert (tmp_path / "link.html").is_symlink()
    written = target.read_text(encoding="utf-8")
    assert written.startswith("<!DOCTYPE html>") and written.endswith("</html>\n")

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr("os.fsync", interrupted)          # Ctrl-C in the middle of the write
    with pytest.raises(KeyboardInterrupt):
        viz.export_lesson(J, tmp_path / "link.html", names=names, model=model, title="new")
    assert target.read_text(encoding="utf-8") == written
    assert sorted(os.listdir(tmp_path)) == ["link.html", "page.html"]


@needs_dot
def test_a_backward_pass_too_large_for_one_page_is_refused(tmp_path, monkeypatch):
    J, names, model = corpus.course_232_nn()
    monkeypatch.setattr("viz.lesson.MAX_FRAME_NODES", 20)
    with pytest.raises(ValueError, match=r"export_lesson: the backward pass has 4 steps over \d+ "
                                         r"boxes: 5 frames of the whole inverse network"):
        viz.export_lesson(J, tmp_path / "l.html", names=names, model=model)
    assert os.listdir(tmp_path) == []
    path = viz.export_lesson(J, tmp_path / "l.html", names=names, model=model, max_nodes=1)
    page = _parse(open(path, encoding="utf-8").read())
    assert len(page.frames) == 1                             # the summary, as draw_backward's
    assert [e["data-param"] for e in page.explanations] == ["W⁽¹⁾", "b⁽¹⁾", "W⁽²⁾", "b⁽²⁾"]


@needs_dot
def test_the_update_shows_the_parameters_the_optimizer_trains(tmp_path):
    import optim

    J, names, model = corpus.course_232_nn()
    J.backward(retain_graph=True)
    path = viz.export_lesson(J, tmp_path / "l.html", names=names, model=model,
                             optimizer=optim.SGD(model[2].parameters(), lr=0.1))
    text = open(path, encoding="utf-8").read()
    update = html.unescape(text[text.index('<section id="update">'):])
    assert "W⁽²⁾" in update and "b⁽²⁾" in update and "W⁽¹⁾" not in update
    other = ag.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match=r"export_lesson: the optimizer \(SGD\) updates none of "
                                         r"the graph's parameters \(W⁽¹⁾, b⁽¹⁾, W⁽²⁾, b⁽²⁾\)"):
        viz.export_lesson(J, tmp_path / "l.html", names=names, model=model,
                          optimizer=optim.SGD([other], lr=0.1))


@needs_dot
def test_an_empty_parameter_has_no_explanation(tmp_path):
    import numpy as np

    w = ag.tensor(np.zeros((0, 2)), requires_grad=True)
    v = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    J = (v * 3.0).sum() + (w * 2.0).sum()
    path = viz.export_lesson(J, tmp_path / "l.html", names={"w": w, "v": v})
    page = _parse(open(path, encoding="utf-8").read())
    assert [e["data-param"] for e in page.explanations] == ["v"]
    assert "∂J/∂v₁ = 3" in page.explanations[0]["text"]
