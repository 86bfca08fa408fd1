// What a person across the room can read: run in the page by test_wall_screen_browser.py.
// small: must-read text under 32 px; cut: must-read text wider than its box; clipped: must-read
// text below its column's or the screen's edge; scroll: whether the page scrolls; biggest: the
// largest font size of any text, to compare with the unhandled count's.
() => {
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const clip = el => el.closest('.wall-problems, .wall-incidents, .wall-foot section');
  const out = {small: [], cut: [], clipped: [], largest: null};
  let biggest = 0;
  document.querySelectorAll('#wall *').forEach(el => {
    if (!shown(el) || !el.childNodes.length) return;
    const hasText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!hasText) return;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size > biggest) { biggest = size; out.largest = el.className || el.tagName; }
  });
  document.querySelectorAll('#wall [data-must-read]').forEach(el => {
    if (!shown(el)) return;
    const text = el.textContent.trim().slice(0, 40);
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 32) out.small.push([text, size]);
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'inline') out.cut.push(text);
    const r = el.getBoundingClientRect(), box = clip(el);
    const limit = box ? box.getBoundingClientRect() : {bottom: innerHeight, right: innerWidth};
    if (r.bottom > Math.min(limit.bottom, innerHeight) + 1 || r.right > innerWidth + 1) out.clipped.push(text);
  });
  out.scroll = [document.documentElement.scrollWidth > innerWidth,
                document.documentElement.scrollHeight > innerHeight];
  out.unhandledPx = parseFloat(getComputedStyle(document.querySelector('.wall-counts .unhandled .n')).fontSize);
  out.biggest = biggest;
  return out;
}
