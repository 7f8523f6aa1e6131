"""Form controls are visible (WCAG 1.4.11): every border colour the stylesheet gives an input,
select or textarea reaches 3:1 against the white surface it sits on."""

import re
from pathlib import Path

STYLESHEET = Path(__file__).resolve().parent.parent / "saas" / "static" / "css" / "app.css"
CONTROL = re.compile(r"\b(input|select|textarea)\b")


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def control_borders() -> list[tuple[str, str]]:
    css = re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text(), flags=re.S)
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        if not CONTROL.search(selector) or ":focus" in selector or "aria-invalid" in selector:
            continue
        for colour in re.findall(r"border(?:-color)?:[^;]*?(#[0-9a-fA-F]{6})", body):
            found.append((selector.strip(), colour))
    return found


def test_every_form_control_border_reaches_three_to_one():
    borders = control_borders()
    assert borders, "no form control border found in the stylesheet"
    weak = [
        (s, c, round(contrast(c, "#ffffff"), 2)) for s, c in borders if contrast(c, "#ffffff") < 3
    ]
    assert weak == []
