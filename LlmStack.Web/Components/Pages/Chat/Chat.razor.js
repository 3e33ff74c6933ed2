// Keyboard handling of the chat page that needs no round trip to the server, and the Markdown download.
// No inline handlers: everything is attached here, so that a strict Content-Security-Policy holds.

// Escape closes what is open, innermost first: the container of the focused element when it has an Escape action
// (an edited message), else the conversation drawer, else the settings panel. Each such container carries
// [data-escape-closes] and one [data-escape-button], which is clicked: the page handles the click as for a
// mouse, including where focus goes next.
export function init(root) {
    root.addEventListener('keydown', e => {
        if (e.key !== 'Escape' || e.defaultPrevented || e.isComposing) {
            return;
        }
        const focused = document.activeElement?.closest('[data-escape-closes]');
        const target = (focused && root.contains(focused) ? focused : null)
            ?? root.querySelector('[data-escape-closes="drawer"]')
            ?? root.querySelector('[data-escape-closes="settings"]');
        const button = target?.querySelector('[data-escape-button]');
        if (button) {
            e.preventDefault();
            button.click();
        }
    });
}

// Saves text as a file the browser downloads (an exported conversation).
export function download(fileName, text, mimeType) {
    const url = URL.createObjectURL(new Blob([text], { type: mimeType }));
    const link = document.createElement('a');
    link.href = url;
    link.download = fileName;
    document.body.append(link);
    link.click();
    link.remove();
    // The download has started from the URL; it must outlive this task only briefly.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
