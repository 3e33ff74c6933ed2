// The message box grows with its text (up to a limit, then scrolls). Enter and Shift+Enter are handled by
// wwwroot/app.js for every [data-enter-sends] box, from the first paint on.
const maxRows = 8;

export function init(textArea) {
    // A message handed over from the connecting page (app.js) keeps its focus there; otherwise the box takes it.
    if (!document.activeElement || document.activeElement === document.body) {
        textArea.focus();
    }
    textArea.addEventListener('input', () => resizeToFit(textArea));
    // Blazor clears the box by setting its value after a send; that fires no 'input' event.
    const valueProperty = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value');
    Object.defineProperty(textArea, 'value', {
        get() { return valueProperty.get.call(this); },
        set(value) { valueProperty.set.call(this, value); resizeToFit(this); },
    });
    resizeToFit(textArea);
}

function resizeToFit(textArea) {
    const style = getComputedStyle(textArea);
    const lineHeight = parseFloat(style.lineHeight);
    textArea.rows = 1;
    const lines = Math.ceil((textArea.scrollHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)) / lineHeight);
    textArea.rows = Math.min(maxRows, Math.max(1, lines));
}
