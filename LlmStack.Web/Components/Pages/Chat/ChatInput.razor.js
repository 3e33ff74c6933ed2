// The message box: grows with its text (up to a limit, then scrolls), Enter sends, Shift+Enter is a new line.
const maxRows = 8;

export function init(textArea) {
    textArea.focus();
    textArea.addEventListener('input', () => resizeToFit(textArea));
    // Blazor clears the box by setting its value after a send; that fires no 'input' event.
    const valueProperty = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value');
    Object.defineProperty(textArea, 'value', {
        get() { return valueProperty.get.call(this); },
        set(value) { valueProperty.set.call(this, value); resizeToFit(this); },
    });

    textArea.addEventListener('keydown', e => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            // Blazor's @bind listens to 'change'; raise it first so the form submits the current text.
            textArea.dispatchEvent(new Event('change', { bubbles: true }));
            textArea.form.requestSubmit();
        }
    });
}

function resizeToFit(textArea) {
    const style = getComputedStyle(textArea);
    const lineHeight = parseFloat(style.lineHeight);
    textArea.rows = 1;
    const lines = Math.ceil((textArea.scrollHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)) / lineHeight);
    textArea.rows = Math.min(maxRows, Math.max(1, lines));
}
