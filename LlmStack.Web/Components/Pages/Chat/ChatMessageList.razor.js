// Keeps the newest text in view while a reply streams, unless the reader has scrolled up to read something
// earlier: then the list stays where they left it until they scroll back to the bottom or send a message.
const bottomThresholdPx = 48;

export function followNewContent(scroller) {
    let pinned = true;
    let lastTop = scroller.scrollTop;
    const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < bottomThresholdPx;

    scroller.addEventListener('scroll', () => {
        // Growth of the content never moves scrollTop, and following it only moves it down: only the reader
        // moves it up.
        const top = scroller.scrollTop;
        if (atBottom()) {
            pinned = true;
        } else if (top < lastTop) {
            pinned = false;
        }
        lastTop = top;
    }, { passive: true });
    // A wheel or swipe upwards is the reader's intent even before the scroll it causes lands; acting on it at
    // once keeps a frame of streaming from pulling the list back down.
    scroller.addEventListener('wheel', e => { if (e.deltaY < 0) pinned = false; }, { passive: true });
    scroller.addEventListener('touchmove', () => { if (!atBottom()) pinned = false; }, { passive: true });

    let scheduled = false;
    const observer = new MutationObserver(mutations => {
        // A new question of the reader's, or another conversation opened: show its end.
        if (mutations.some(m => [...m.addedNodes].some(n => n.classList?.contains('user-message')))) {
            pinned = true;
        }
        if (!pinned || scheduled) {
            return;
        }
        scheduled = true;
        requestAnimationFrame(() => {
            scheduled = false;
            if (pinned) {
                scroller.scrollTop = scroller.scrollHeight;
            }
        });
    });
    observer.observe(scroller, { childList: true, subtree: true, characterData: true, attributes: true });
    scroller.scrollTop = scroller.scrollHeight;
}
