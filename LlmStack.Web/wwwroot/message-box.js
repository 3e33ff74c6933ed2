// Loaded as a plain script right after the connecting page (App.razor), not as a module: modules run only after
// the whole page and their imports have loaded, and the keys below must work from the first paint.
'use strict';

// A block: nothing here becomes a global of the page.
{
    const connectingBoxId = 'connecting-message';
    // Enter sends, Shift+Enter starts a new line, in every message box ([data-enter-sends]). Listening on the document
    // means the keys work from the first paint, before a box's own component has finished starting.
    document.addEventListener('keydown', e => {
        const box = e.target;
        if (e.key !== 'Enter' || e.shiftKey || e.isComposing || !(box instanceof HTMLTextAreaElement) || !box.matches('[data-enter-sends]')) {
            return;
        }
        e.preventDefault();
        if (box.id === connectingBoxId) {
            // Nothing can be sent before the page is live: remember that the reader wants it sent, and say so.
            box.dataset.sendWhenLive = 'true';
            document.getElementById('connecting-state').textContent = 'Connecting… your message is sent as soon as the page is live.';
            return;
        }
        // Blazor's @bind listens to 'change'; raise it first so that the form submits the current text.
        box.dispatchEvent(new Event('change', { bubbles: true }));
        box.form?.requestSubmit();
    });

    // Until the interactive page is up, App.razor shows a connecting page with a message box that keeps what is typed.
    // The moment the live box appears, the draft (and an Enter pressed meanwhile) moves into it, in the same task as
    // the page's insertion, so that no keystroke can fall between the two boxes.
    const connectingPage = document.getElementById('connecting-page');
    if (connectingPage) {
        // The box is read-only until this script runs: before it, Enter would only have added a new line.
        const draftBox = document.getElementById(connectingBoxId);
        draftBox.readOnly = false;
        draftBox.focus();

        const handOver = () => {
            const live = document.getElementById('message-input');
            if (!live) {
                return false;
            }
            const draft = document.getElementById(connectingBoxId);
            const hadFocus = document.activeElement === draft;
            const { selectionStart, selectionEnd } = draft;
            connectingPage.remove();
            if (draft.value) {
                live.value = draft.value;
                live.dispatchEvent(new Event('change', { bubbles: true }));
            }
            if (hadFocus) {
                live.focus();
                live.setSelectionRange(selectionStart, selectionEnd);
            }
            if (draft.dataset.sendWhenLive === 'true' && live.value.trim()) {
                live.form.requestSubmit();
            }
            return true;
        };
        if (!handOver()) {
            const observer = new MutationObserver(() => {
                if (handOver()) {
                    observer.disconnect();
                }
            });
            observer.observe(document.body, { childList: true, subtree: true });
        }
    }
}
