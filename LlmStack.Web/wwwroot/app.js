// Renders the model's replies. Model output is untrusted input: markdown is parsed by marked, any raw HTML in it
// is shown as text, and the result is sanitised by DOMPurify before it reaches the page, so neither
// <script> nor event-handler attributes from a reply can ever run. Images are shown as links so that a reply
// cannot make the browser fetch (and leak data to) an address of the model's choosing.
import { Marked } from './lib/marked/marked.esm.js';
import DOMPurify from './lib/dompurify/purify.es.mjs';
import hljs from './lib/highlight.js/highlight.min.js';

const escapeHtml = text => text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const markdown = new Marked({
    gfm: true,
    breaks: false,
    renderer: {
        html: ({ text }) => escapeHtml(text),
        image: ({ href, text }) => `<a href="${escapeHtml(href ?? '')}">${escapeHtml(text || href || 'image')}</a>`,
    },
});

const purify = DOMPurify(window);
purify.addHook('afterSanitizeAttributes', node => {
    if (node.tagName === 'A') {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
});
const purifyOptions = { FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'img', 'svg', 'math'] };

customElements.define('assistant-message', class extends HTMLElement {
    static observedAttributes = ['markdown'];
    #frame = 0;

    attributeChangedCallback() {
        // While a reply streams, the attribute changes per token: render at most once per frame.
        if (!this.#frame) {
            this.#frame = requestAnimationFrame(() => {
                this.#frame = 0;
                this.#render();
            });
        }
    }

    disconnectedCallback() {
        cancelAnimationFrame(this.#frame);
        this.#frame = 0;
    }

    connectedCallback() {
        // A reply shows its text the moment it is added (Blazor sets the attribute before adding the element):
        // waiting for the next frame would show an empty reply for that frame, or longer in a background tab.
        cancelAnimationFrame(this.#frame);
        this.#frame = 0;
        this.#render();
    }

    #render() {
        const source = this.getAttribute('markdown') ?? '';
        const html = purify.sanitize(markdown.parse(source), purifyOptions);
        this.innerHTML = html;
        for (const code of this.querySelectorAll('pre > code')) {
            decorateCodeBlock(code);
        }
    }
});

// A moment shown in the reader's own time zone and locale (the server renders in neither).
const dateFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

customElements.define('local-time', class extends HTMLElement {
    static observedAttributes = ['datetime'];

    attributeChangedCallback(name, oldValue, value) {
        const date = new Date(value);
        this.textContent = Number.isNaN(date.getTime()) ? '' : dateFormat.format(date);
    }
});

function decorateCodeBlock(code) {
    const pre = code.parentElement;
    const language = [...code.classList].find(c => c.startsWith('language-'))?.slice('language-'.length);
    // While a reply streams, a fence's language name may be cut short ("csha"): highlight known languages only.
    if (language && hljs.getLanguage(language)) {
        hljs.highlightElement(code);
    }

    const toolbar = document.createElement('div');
    toolbar.className = 'code-toolbar';
    const label = document.createElement('span');
    label.className = 'code-language';
    label.textContent = language ?? 'code';
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'code-copy';
    copy.textContent = 'Copy';
    copy.setAttribute('aria-label', language ? `Copy ${language} code` : 'Copy code');
    copy.addEventListener('click', async () => {
        copy.textContent = await copyText(code.textContent) ? 'Copied' : 'Copy failed';
        setTimeout(() => copy.textContent = 'Copy', 1500);
    });
    toolbar.append(label, copy);
    pre.before(toolbar);

    const wrapper = document.createElement('div');
    wrapper.className = 'code-block';
    toolbar.before(wrapper);
    wrapper.append(toolbar, pre);
}

async function copyText(text) {
    try {
        await navigator.clipboard.writeText(text);
        return true;
    } catch {
        // The Clipboard API needs a secure context (https or localhost); fall back to a selection copy.
        const area = document.createElement('textarea');
        area.value = text;
        area.setAttribute('readonly', '');
        area.style.position = 'fixed';
        area.style.opacity = '0';
        document.body.append(area);
        area.select();
        const copied = document.execCommand('copy');
        area.remove();
        return copied;
    }
}

// A reply's Copy button ([data-copy-reply], rendered by Blazor) copies the reply's Markdown source, as the model
// wrote it. One listener on the document serves every reply, present and future.
document.addEventListener('click', async e => {
    const button = e.target instanceof Element ? e.target.closest('[data-copy-reply]') : null;
    if (!button) {
        return;
    }
    const source = button.closest('.assistant-message')?.querySelector('assistant-message')?.getAttribute('markdown') ?? '';
    const label = button.querySelector('.copy-label') ?? button;
    label.textContent = await copyText(source) ? 'Copied' : 'Copy failed';
    setTimeout(() => label.textContent = 'Copy', 1500);
});
