"""How wide the page's main column is, as the browser measures it.

Streamlit's columns stack on a narrow screen, but a plotly figure with its own subplots does
not reflow: the Threshold page's explorer (map, three curves, counts and a slider in one
figure, so that the slider runs in the browser) overlapped itself on a phone. A tiny
JavaScript component (`st.components.v2`, inline, nothing fetched) reports whether the
column is narrower than `NARROW_PX`, and again when that changes (a phone turned, a window
resized); the page then draws the figure's one-column layout. Until the browser has
reported (the first run of a page, or AppTest), the wide layout is drawn.
"""

from __future__ import annotations

import streamlit as st

NARROW_PX = 700
"""Main-column widths below this many CSS pixels get one-column figures (a phone, a
tablet upright); a laptop with the sidebar open has ~820 px at 1280 px."""

_JS = """
export default function (component) {
  const { setStateValue, parentElement, data } = component;
  const host = parentElement.host || parentElement;
  let last = data.narrow;
  const report = () => {
    const width = host.getBoundingClientRect().width;
    if (width > 0 && (width < data.limit) !== last) {
      last = width < data.limit;
      setStateValue("narrow", last);
    }
  };
  const watch = new ResizeObserver(report);
  watch.observe(host);
  report();
  return () => watch.disconnect();
}
"""

_KEY = "quake_viewport"


@st.cache_resource(show_spinner=False)
def _component():
    return st.components.v2.component("quake_viewport", js=_JS)


def narrow_layout() -> bool:
    """Whether the main column is narrower than `NARROW_PX` (False until the browser says).

    Mount it once per page run, where an empty element does not matter (it has no height)."""
    state = st.session_state.get(_KEY)  # the component's last state: a dict
    current = bool(state.get("narrow")) if isinstance(state, dict) else False
    result = _component()(
        key=_KEY,
        data={"limit": NARROW_PX, "narrow": current},
        default={"narrow": current},
        on_narrow_change=lambda: None,
        height=0,
    )
    return bool(getattr(result, "narrow", False))
