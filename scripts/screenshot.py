#!/usr/bin/env python3
"""Render a terminal capture with ANSI colours to a PNG.

    scripts/screenshot.py --from-ansi CAPTURE.ans OUT.png [options]
    scripts/screenshot.py CAPTURE.ans OUT.png [options]          (same thing)
    tmux capture-pane -e -p -N -t T | scripts/screenshot.py - OUT.png

The input is what `tmux capture-pane -e -p` prints: UTF-8 text with ANSI SGR
sequences (16 and 256 colours, 24-bit colour, bold, dim, italic, underline,
reverse, strike-through, default foreground/background). Other escape
sequences are skipped. Each line is one terminal row; wide characters (CJK,
emoji) take two cells, combining marks none.

Box-drawing lines (U+2500..U+257F, light and heavy, straight and rounded) and
block elements (U+2580..U+259F: ▁..█, ▏..▉, ░▒▓, quadrants) are drawn as
shapes so that they join across cells; everything else comes from the font
(DejaVu Sans Mono, with DejaVu Sans as a fallback for missing glyphs).

Needs: Python 3.8+, Pillow (`pip install pillow`) and the DejaVu fonts
(`apt-get install fonts-dejavu-core`, or --font PATH).

Options:
  --cols N / --rows N   grid size (default: the widest line / the number of
                        lines; give the pane size so the image is exact)
  --font-size PX        font size in pixels (default 15: 9x18 px cells)
  --line-height X       cell height as a multiple of the font's line (default 1.0)
  --padding PX          margin around the grid (default 12)
  --palette NAME        dark (default), xterm or vga: the 16 base colours
  --fg / --bg #RRGGBB   default foreground / background
  --bold-bright         bold text in colours 0-7 uses the bright colour (xterm)
  --fill-eol            lines whose last attribute has a background (or
                        reverse) are filled with it to the right edge: for
                        captures taken without -N, where tmux trimmed the
                        trailing spaces of e.g. a reverse-video bar (default on;
                        --no-fill-eol turns it off)
  --font PATH, --bold-font PATH
  --scale N             render N times larger (HiDPI screenshots)
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # say what is missing, in one line, and how to get it
    sys.stderr.write("screenshot.py: needs Pillow (pip install pillow)\n")
    sys.exit(3)

FONT_DIRS = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    os.path.expanduser("~/.local/share/fonts"),
    "/Library/Fonts",
    os.path.expanduser("~/Library/Fonts"),
]

PALETTES = {
    # A calm dark theme (close to common dark terminal defaults).
    "dark": [
        "#1c1f24", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#c8ccd4",
        "#5c6370", "#ff7b86", "#b5e890", "#ffd68a", "#82c4ff", "#dc98f0", "#74d4e0", "#f3f5f7",
    ],
    # xterm's defaults.
    "xterm": [
        "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
        "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
    ],
    # The Linux console / VGA.
    "vga": [
        "#000000", "#aa0000", "#00aa00", "#aa5500", "#0000aa", "#aa00aa", "#00aaaa", "#aaaaaa",
        "#555555", "#ff5555", "#55ff55", "#ffff55", "#5555ff", "#ff55ff", "#55ffff", "#ffffff",
    ],
}
DEFAULT_FG = "#c8ccd4"
DEFAULT_BG = "#15171b"


def hex_rgb(s: str) -> tuple[int, int, int]:
    s = s.lstrip("#")
    if not re.fullmatch(r"[0-9a-fA-F]{6}", s):
        raise ValueError(f"bad colour '{s}' (want #RRGGBB)")
    return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))


def xterm256(n: int, base16: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    if n < 16:
        return base16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


# ---------------------------------------------------------------------------
# Parsing

class Style:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse", "hidden", "strike", "overline")

    def __init__(self):
        self.reset()

    def reset(self):
        # fg/bg: None (default), ("i", n) palette index, ("rgb", (r, g, b))
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = False
        self.reverse = self.hidden = self.strike = self.overline = False

    def copy(self) -> "Style":
        s = Style.__new__(Style)
        for k in Style.__slots__:
            setattr(s, k, getattr(self, k))
        return s

    def key(self):
        return tuple(getattr(self, k) for k in Style.__slots__)

    def has_background(self) -> bool:
        return self.bg is not None or self.reverse


def _extended_colour(params: list[list[int]], i: int):
    """SGR 38/48/58 with its arguments, in either the ; or the : form.
    Returns (colour or None, index of the last parameter used)."""
    head = params[i]
    if len(head) > 1:  # colon form: 38:5:n, 38:2:r:g:b or 38:2::r:g:b
        sub = head[1:]
        if sub and sub[0] == 5 and len(sub) >= 2:
            return ("i", sub[1] & 255), i
        if sub and sub[0] == 2 and len(sub) >= 4:
            rgb = sub[-3:]
            return ("rgb", tuple(max(0, min(255, v)) for v in rgb)), i
        return None, i
    # semicolon form
    if i + 1 < len(params):
        kind = params[i + 1][0] if params[i + 1] else 0
        if kind == 5 and i + 2 < len(params):
            return ("i", (params[i + 2][0] if params[i + 2] else 0) & 255), i + 2
        if kind == 2 and i + 4 < len(params):
            rgb = [(params[i + k][0] if params[i + k] else 0) for k in (2, 3, 4)]
            return ("rgb", tuple(max(0, min(255, v)) for v in rgb)), i + 4
    return None, len(params) - 1


def apply_sgr(style: Style, raw: str) -> None:
    if raw == "":
        style.reset()
        return
    params = []
    for p in raw.split(";"):
        sub = []
        for q in p.split(":"):
            try:
                sub.append(int(q) if q else 0)
            except ValueError:
                sub.append(0)
        params.append(sub)
    i = 0
    while i < len(params):
        code = params[i][0] if params[i] else 0
        if code == 0:
            style.reset()
        elif code == 1:
            style.bold = True
        elif code == 2:
            style.dim = True
        elif code == 3:
            style.italic = True
        elif code == 4:
            # 4:0 turns underline off; 4:1..4:5 are underline styles.
            style.underline = not (len(params[i]) > 1 and params[i][1] == 0)
        elif code == 7:
            style.reverse = True
        elif code == 8:
            style.hidden = True
        elif code == 9:
            style.strike = True
        elif code == 21:
            style.underline = True  # double underline (or "bold off" on old terminals)
        elif code == 22:
            style.bold = style.dim = False
        elif code == 23:
            style.italic = False
        elif code == 24:
            style.underline = False
        elif code == 27:
            style.reverse = False
        elif code == 28:
            style.hidden = False
        elif code == 29:
            style.strike = False
        elif 30 <= code <= 37:
            style.fg = ("i", code - 30)
        elif code == 38:
            colour, i = _extended_colour(params, i)
            if colour is not None:
                style.fg = colour
        elif code == 39:
            style.fg = None
        elif 40 <= code <= 47:
            style.bg = ("i", code - 40)
        elif code == 48:
            colour, i = _extended_colour(params, i)
            if colour is not None:
                style.bg = colour
        elif code == 49:
            style.bg = None
        elif code == 53:
            style.overline = True
        elif code == 55:
            style.overline = False
        elif code == 58:
            _, i = _extended_colour(params, i)  # underline colour: ignored
        elif 90 <= code <= 97:
            style.fg = ("i", code - 90 + 8)
        elif 100 <= code <= 107:
            style.bg = ("i", code - 100 + 8)
        # 5/6 blink, 25, 59 and unknown codes: ignored
        i += 1


ESC_RE = re.compile(
    r"\x1b(?:\[([0-9;:?<=>]*)([ -/]*)([@-~])"   # CSI
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"            # OSC (e.g. hyperlinks)
    r"|[PX^_][^\x1b]*\x1b\\"                     # DCS, SOS, PM, APC
    r"|[()*+][0-9A-Za-z]"                        # charset designation
    r"|.)", re.S)


def char_width(ch: str) -> int:
    o = ord(ch)
    if o < 32 or o == 0x7F:
        return 0
    if o < 0x300:
        return 1
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Me", "Cf") or o == 0x200B or 0x1160 <= o <= 0x11FF:
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


class Cell:
    __slots__ = ("text", "style", "wide")

    def __init__(self, text: str, style: Style, wide: bool = False):
        self.text = text
        self.style = style
        self.wide = wide


def parse(text: str, cols: int | None, rows: int | None, fill_eol: bool):
    """Returns (grid, cols, rows): grid[r][c] is a Cell, or None for the right
    half of a wide character."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    style = Style()
    parsed: list[list[Cell | None]] = []
    eol_styles: list[Style | None] = []
    for line in lines:
        line = line.rstrip("\r")
        row: list[Cell | None] = []
        i = 0
        n = len(line)
        while i < n:
            ch = line[i]
            if ch == "\x1b":
                m = ESC_RE.match(line, i)
                if m is None:
                    i += 1
                    continue
                if m.group(3) == "m" and not m.group(2) and not (m.group(1) or "").startswith(("?", "<", "=", ">")):
                    apply_sgr(style, m.group(1) or "")
                i = m.end()
                continue
            i += 1
            if ch == "\t":
                nxt = (len(row) // 8 + 1) * 8
                while len(row) < nxt:
                    row.append(Cell(" ", style.copy()))
                continue
            w = char_width(ch)
            if w == 0:
                if ord(ch) >= 32 and row:
                    # combining mark: joins the previous character
                    j = len(row) - 1
                    while j >= 0 and row[j] is None:
                        j -= 1
                    if j >= 0:
                        row[j].text += ch
                continue
            row.append(Cell(ch, style.copy(), wide=(w == 2)))
            if w == 2:
                row.append(None)
        parsed.append(row)
        eol_styles.append(style.copy() if style.has_background() else None)

    if cols is None:
        cols = max((len(r) for r in parsed), default=1) or 1
    if rows is None:
        rows = max(len(parsed), 1)
    blank = Style()
    grid: list[list[Cell | None]] = []
    for r in range(rows):
        row = parsed[r] if r < len(parsed) else []
        row = row[:cols]
        if len(row) == cols and row and row[-1] is not None and row[-1].wide:
            row[-1] = Cell(" ", row[-1].style)  # a wide char cut at the right edge
        fill = eol_styles[r] if (fill_eol and r < len(eol_styles)) else None
        while len(row) < cols:
            row.append(Cell(" ", fill.copy() if fill else blank))
        grid.append(row)
    return grid, cols, rows


# ---------------------------------------------------------------------------
# Fonts

def find_font(names: list[str]) -> str | None:
    for d in FONT_DIRS:
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p):
                return p
    try:  # fontconfig, when there is one
        import subprocess
        for n in names:
            fam = n.replace(".ttf", "").replace("-", ":style=")
            out = subprocess.run(["fc-match", "-f", "%{file}", fam], capture_output=True, text=True, timeout=5).stdout
            if out and os.path.isfile(out) and os.path.basename(out).lower().startswith(n.split("-")[0].split(".")[0].lower()):
                return out
    except Exception:
        pass
    return None


class Fonts:
    def __init__(self, size: float, regular: str | None, bold: str | None):
        reg = regular or find_font(["DejaVuSansMono.ttf"])
        if not reg:
            sys.stderr.write("screenshot.py: needs the DejaVu Sans Mono font "
                             "(apt-get install fonts-dejavu-core, or --font PATH)\n")
            sys.exit(3)
        bld = bold or find_font(["DejaVuSansMono-Bold.ttf"]) or reg
        obl = find_font(["DejaVuSansMono-Oblique.ttf"]) or reg
        bob = find_font(["DejaVuSansMono-BoldOblique.ttf"]) or bld
        self.variants = {
            (False, False): ImageFont.truetype(reg, size),
            (True, False): ImageFont.truetype(bld, size),
            (False, True): ImageFont.truetype(obl, size),
            (True, True): ImageFont.truetype(bob, size),
        }
        self.fallbacks = []
        for names in (["DejaVuSans.ttf"], ["DejaVuSans-Bold.ttf"]):
            p = find_font(names)
            if p:
                self.fallbacks.append(ImageFont.truetype(p, size))
        self.size = size
        self._system: dict = {}
        self._by_path: dict = {}
        self._missing_cache: dict[tuple[int, str], bool] = {}
        self._notdef: dict[int, bytes] = {}
        f = self.variants[(False, False)]
        self.ascent, self.descent = f.getmetrics()
        self.advance = f.getlength("M")

    def _has_glyph(self, font, ch: str) -> bool:
        key = (id(font), ch)
        if key not in self._missing_cache:
            if id(font) not in self._notdef:
                self._notdef[id(font)] = bytes(font.getmask("\U0010fffd"))
            try:
                mask = bytes(font.getmask(ch))
            except Exception:
                mask = self._notdef[id(font)]
            self._missing_cache[key] = (mask != self._notdef[id(font)]) or ch.isspace()
        return self._missing_cache[key]

    def pick(self, text: str, bold: bool, italic: bool):
        f = self.variants[(bold, italic)]
        if self._has_glyph(f, text[0]):
            return f
        for fb in self.fallbacks:
            if self._has_glyph(fb, text[0]):
                return fb
        fb = self._system_fallback(text[0])
        return fb if fb is not None else f

    def _system_fallback(self, ch: str):
        """A font that has ch, found by fontconfig (CJK, symbols), if any."""
        if ch in self._system:
            return self._system[ch]
        font = None
        try:
            import subprocess
            path = subprocess.run(["fc-match", "-f", "%{file}", f"monospace:charset={ord(ch):x}"],
                                  capture_output=True, text=True, timeout=5).stdout.strip()
            if path and os.path.isfile(path):
                if path not in self._by_path:
                    self._by_path[path] = ImageFont.truetype(path, self.size)
                cand = self._by_path[path]
                if self._has_glyph(cand, ch):
                    font = cand
        except Exception:
            font = None
        self._system[ch] = font
        return font


# ---------------------------------------------------------------------------
# Shapes: box drawing and block elements

def box_segments(ch: str):
    """(up, right, down, left) weights 0 none, 1 light, 2 heavy for a box-drawing
    character we can draw as lines; ("arc", corner) for rounded corners; None
    for the rest (dashes, doubles, diagonals: from the font)."""
    o = ord(ch)
    if not (0x2500 <= o <= 0x257F):
        return None
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    name = name.replace("BOX DRAWINGS ", "")
    if "DASH" in name or "DIAGONAL" in name or "DOUBLE" in name or "SINGLE" in name:
        return None
    if "ARC" in name:
        # LIGHT ARC DOWN AND RIGHT etc.
        dirs = set(name.replace("LIGHT ARC ", "").split(" AND "))
        return ("arc", frozenset(dirs))
    weights = {"UP": 0, "RIGHT": 0, "DOWN": 0, "LEFT": 0}
    last = None
    parts = name.split(" AND ")
    pending: list[list[str]] = []
    for part in parts:
        words = part.split()
        w = 1 if "LIGHT" in words else 2 if "HEAVY" in words else None
        dirs = []
        for word in words:
            if word in weights:
                dirs.append(word)
            elif word == "HORIZONTAL":
                dirs += ["LEFT", "RIGHT"]
            elif word == "VERTICAL":
                dirs += ["UP", "DOWN"]
        if w is None:
            pending.append(dirs)
            continue
        for d in dirs:
            weights[d] = w
        for ds in pending:  # "LIGHT DOWN AND RIGHT": RIGHT takes LIGHT
            for d in ds:
                weights[d] = w
        pending = []
        last = w
    for ds in pending:
        for d in ds:
            weights[d] = last or 1
    segs = (weights["UP"], weights["RIGHT"], weights["DOWN"], weights["LEFT"])
    return segs if any(segs) else None


def blend(a, b, t: float):
    return tuple(int(round(a[k] * (1 - t) + b[k] * t)) for k in range(3))


class Renderer:
    def __init__(self, fonts: Fonts, cell_w: int, cell_h: int, scale: int):
        self.fonts = fonts
        self.cw = cell_w
        self.ch = cell_h
        self.light = max(1, round(cell_w / 9))
        self.heavy = max(self.light + 1, round(cell_w / 9 * 2))

    def draw_box(self, d: ImageDraw.ImageDraw, x: int, y: int, spec, colour) -> None:
        cw, ch = self.cw, self.ch
        cx = x + (cw - self.light) // 2  # left pixel of a light vertical line
        cy = y + (ch - self.light) // 2  # top pixel of a light horizontal line
        if spec[0] == "arc":
            dirs = spec[1]
            r = min(cw, ch) // 2
            t = self.light
            # arc centre: the inner corner of the rounded turn
            ax = cx + (r if "RIGHT" in dirs else -r)
            ay = cy + (r if "DOWN" in dirs else -r)
            if "RIGHT" in dirs:
                d.rectangle([ax, cy, x + cw - 1, cy + t - 1], fill=colour)
            else:
                d.rectangle([x, cy, ax, cy + t - 1], fill=colour)
            if "DOWN" in dirs:
                d.rectangle([cx, ay, cx + t - 1, y + ch - 1], fill=colour)
            else:
                d.rectangle([cx, y, cx + t - 1, ay], fill=colour)
            start = {frozenset({"DOWN", "RIGHT"}): 180, frozenset({"DOWN", "LEFT"}): 270,
                     frozenset({"UP", "LEFT"}): 0, frozenset({"UP", "RIGHT"}): 90}.get(dirs, 0)
            d.arc([ax - r, ay - r, ax + r + t - 1, ay + r + t - 1], start, start + 90, fill=colour, width=t)
            return
        up, right, down, left = spec

        def thick(w):
            return self.light if w == 1 else self.heavy

        # vertical extent of horizontal strokes / horizontal extent of vertical strokes
        vmax = max(thick(w) for w in (up, down) if w) if (up or down) else 0
        hmax = max(thick(w) for w in (left, right) if w) if (left or right) else 0
        if left:
            t = thick(left)
            ty = y + (ch - t) // 2
            x2 = x + (cw - vmax) // 2 + vmax - 1 if vmax else x + cw // 2
            d.rectangle([x, ty, x2, ty + t - 1], fill=colour)
        if right:
            t = thick(right)
            ty = y + (ch - t) // 2
            x1 = x + (cw - vmax) // 2 if vmax else x + cw // 2
            d.rectangle([x1, ty, x + cw - 1, ty + t - 1], fill=colour)
        if up:
            t = thick(up)
            tx = x + (cw - t) // 2
            y2 = y + (ch - hmax) // 2 + hmax - 1 if hmax else y + ch // 2
            d.rectangle([tx, y, tx + t - 1, y2], fill=colour)
        if down:
            t = thick(down)
            tx = x + (cw - t) // 2
            y1 = y + (ch - hmax) // 2 if hmax else y + ch // 2
            d.rectangle([tx, y1, tx + t - 1, y + ch - 1], fill=colour)

    def draw_block(self, d: ImageDraw.ImageDraw, x: int, y: int, ch_: str, fg, bg) -> bool:
        """Block elements U+2580..U+259F. Returns False when not one of them."""
        o = ord(ch_)
        cw, chh = self.cw, self.ch

        def rect(fx0, fy0, fx1, fy1, colour=fg):
            x0 = x + round(fx0 * cw)
            x1 = x + round(fx1 * cw)
            y0 = y + round(fy0 * chh)
            y1 = y + round(fy1 * chh)
            if x1 > x0 and y1 > y0:
                d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=colour)

        if o == 0x2580:
            rect(0, 0, 1, 0.5)
        elif 0x2581 <= o <= 0x2588:  # lower 1/8 .. full
            rect(0, 1 - (o - 0x2580) / 8, 1, 1)
        elif 0x2589 <= o <= 0x258F:  # left 7/8 .. 1/8
            rect(0, 0, (0x2590 - o) / 8, 1)
        elif o == 0x2590:
            rect(0.5, 0, 1, 1)
        elif o in (0x2591, 0x2592, 0x2593):  # shades: fg over bg
            t = {0x2591: 0.25, 0x2592: 0.5, 0x2593: 0.75}[o]
            rect(0, 0, 1, 1, blend(bg, fg, t))
        elif o == 0x2594:
            rect(0, 0, 1, 1 / 8)
        elif o == 0x2595:
            rect(7 / 8, 0, 1, 1)
        elif 0x2596 <= o <= 0x259F:
            quads = {  # UL, UR, LL, LR
                0x2596: (0, 0, 1, 0), 0x2597: (0, 0, 0, 1), 0x2598: (1, 0, 0, 0), 0x2599: (1, 0, 1, 1),
                0x259A: (1, 0, 0, 1), 0x259B: (1, 1, 1, 0), 0x259C: (1, 1, 0, 1), 0x259D: (0, 1, 0, 0),
                0x259E: (0, 1, 1, 0), 0x259F: (0, 1, 1, 1),
            }[o]
            if quads[0]:
                rect(0, 0, 0.5, 0.5)
            if quads[1]:
                rect(0.5, 0, 1, 0.5)
            if quads[2]:
                rect(0, 0.5, 0.5, 1)
            if quads[3]:
                rect(0.5, 0.5, 1, 1)
        else:
            return False
        return True


def render(grid, cols: int, rows: int, opts) -> Image.Image:
    scale = opts.scale
    fonts = Fonts(opts.font_size * scale, opts.font, opts.bold_font)
    cell_w = max(1, round(fonts.advance))
    line = fonts.ascent + fonts.descent
    cell_h = max(1, round(line * opts.line_height))
    baseline = (cell_h - line) // 2 + fonts.ascent
    pad = opts.padding * scale

    base16 = [hex_rgb(c) for c in PALETTES[opts.palette]]
    dfg = hex_rgb(opts.fg) if opts.fg else (hex_rgb(DEFAULT_FG) if opts.palette == "dark" else base16[7])
    dbg = hex_rgb(opts.bg) if opts.bg else (hex_rgb(DEFAULT_BG) if opts.palette == "dark" else base16[0])

    def resolve(c, default):
        if c is None:
            return default
        if c[0] == "rgb":
            return c[1]
        return xterm256(c[1], base16)

    img = Image.new("RGB", (cols * cell_w + 2 * pad, rows * cell_h + 2 * pad), dbg)
    d = ImageDraw.Draw(img)
    r = Renderer(fonts, cell_w, cell_h, scale)

    def colours(st: Style):
        fgc = st.fg
        if opts.bold_bright and st.bold and fgc is not None and fgc[0] == "i" and fgc[1] < 8:
            fgc = ("i", fgc[1] + 8)
        fg = resolve(fgc, dfg)
        bg = resolve(st.bg, dbg)
        if st.reverse:
            fg, bg = bg, fg
        if st.dim:
            fg = blend(fg, bg, 0.45)
        if st.hidden:
            fg = bg
        return fg, bg

    # backgrounds first, so that glyphs overhanging their cell are not cut
    for ry, row in enumerate(grid):
        for cx, cell in enumerate(row):
            if cell is None:
                continue
            _, bg = colours(cell.style)
            if bg != dbg:
                x = pad + cx * cell_w
                y = pad + ry * cell_h
                w = cell_w * (2 if cell.wide else 1)
                d.rectangle([x, y, x + w - 1, y + cell_h - 1], fill=bg)

    for ry, row in enumerate(grid):
        for cx, cell in enumerate(row):
            if cell is None:
                continue
            fg, bg = colours(cell.style)
            x = pad + cx * cell_w
            y = pad + ry * cell_h
            st = cell.style
            text = cell.text
            if text != " ":
                spec = box_segments(text) if len(text) == 1 else None
                if spec is not None:
                    r.draw_box(d, x, y, spec, fg)
                elif not (len(text) == 1 and r.draw_block(d, x, y, text, fg, bg)):
                    font = fonts.pick(text, st.bold, st.italic)
                    w = cell_w * (2 if cell.wide else 1)
                    adv = font.getlength(text)
                    # centre glyphs narrower or wider than the cell (fallback fonts)
                    off = (w - adv) / 2 if abs(adv - w) > 0.5 else 0
                    d.text((x + off, y + baseline), text, font=font, fill=fg, anchor="ls")
            w = cell_w * (2 if cell.wide else 1)
            if st.underline:
                uy = y + min(cell_h - 1, baseline + max(1, round(fonts.descent / 2)))
                d.rectangle([x, uy, x + w - 1, uy + max(1, scale) - 1], fill=fg)
            if st.strike:
                sy = y + baseline - round(fonts.ascent * 0.3)
                d.rectangle([x, sy, x + w - 1, sy + max(1, scale) - 1], fill=fg)
            if st.overline:
                d.rectangle([x, y, x + w - 1, y + max(1, scale) - 1], fill=fg)
    return img


def save_png(img: Image.Image, path: str) -> None:
    # Terminal screens use few colours: an adaptive palette keeps the PNG small
    # without visible loss (anti-aliased text has at most a few hundred shades).
    colours = img.getcolors(maxcolors=256)
    if colours is not None:  # exact
        out = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=len(colours))
    else:
        out = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out.save(path, optimize=True)


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="screenshot.py", usage="%(prog)s --from-ansi FILE.ans OUT.png [options]",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                add_help=True)
    p.add_argument("--from-ansi", nargs=2, metavar=("FILE.ans", "OUT.png"), help="render FILE.ans ('-': stdin) to OUT.png")
    p.add_argument("files", nargs="*", metavar="FILE", help="FILE.ans OUT.png (same as --from-ansi)")
    p.add_argument("--cols", type=int)
    p.add_argument("--rows", type=int)
    p.add_argument("--font-size", type=float, default=15)
    p.add_argument("--line-height", type=float, default=1.0)
    p.add_argument("--padding", type=int, default=12)
    p.add_argument("--palette", choices=sorted(PALETTES), default="dark")
    p.add_argument("--fg")
    p.add_argument("--bg")
    p.add_argument("--bold-bright", action="store_true")
    p.add_argument("--fill-eol", dest="fill_eol", action="store_true", default=True)
    p.add_argument("--no-fill-eol", dest="fill_eol", action="store_false")
    p.add_argument("--font")
    p.add_argument("--bold-font")
    p.add_argument("--scale", type=int, default=1)
    opts = p.parse_args(argv)

    if opts.from_ansi:
        if opts.files:
            p.error("give FILE.ans OUT.png either with --from-ansi or alone, not both")
        src, dst = opts.from_ansi
    elif len(opts.files) == 2:
        src, dst = opts.files
    else:
        p.error("usage: screenshot.py --from-ansi FILE.ans OUT.png [options]")
    if opts.scale < 1 or opts.font_size <= 0 or opts.line_height <= 0:
        p.error("--scale, --font-size and --line-height must be positive")
    for c in (opts.fg, opts.bg):
        if c:
            try:
                hex_rgb(c)
            except ValueError as e:
                p.error(str(e))

    try:
        data = sys.stdin.buffer.read() if src == "-" else open(src, "rb").read()
    except OSError as e:
        sys.stderr.write(f"screenshot.py: {src}: {e.strerror}\n")
        return 1
    text = data.decode("utf-8", errors="replace")
    grid, cols, rows = parse(text, opts.cols, opts.rows, opts.fill_eol)
    img = render(grid, cols, rows, opts)
    try:
        save_png(img, dst)
    except OSError as e:
        sys.stderr.write(f"screenshot.py: {dst}: {e.strerror or e}\n")
        return 1
    print(f"{dst}: {img.width}x{img.height} px, {cols}x{rows} cells, {os.path.getsize(dst) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
