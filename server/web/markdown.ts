/**
 * Markdown as HTML a browser can show without trusting its author (a lab's instructions, a trainee's
 * write-up): marked renders the markdown, and its renderer is told to write nothing active. Raw HTML
 * in the markdown is shown as text, links and images keep only http(s), mailto and relative
 * addresses (no javascript:, data:, vbscript: ...), every attribute is escaped; write-ups show
 * images as links (`images: false`). Fenced code blocks are numbered (`data-code-block="N"`)
 * and their text is returned beside the HTML, so the client can paste block N into a terminal.
 *
 * @example
 * const { html, codeBlocks } = renderMarkdown("Run:\n\n```sh\nkubectl get nodes\n```\n");
 * // codeBlocks: [{ index: 0, lang: "sh", text: "kubectl get nodes" }]
 */
import { Marked, type Tokens } from "marked";

export interface CodeBlock {
  index: number;
  lang: string | null;
  text: string;
}

export interface RenderedMarkdown {
  html: string;
  codeBlocks: CodeBlock[];
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Numeric and the few named character references an address could hide a scheme behind. */
function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);?/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);?/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&colon;/gi, ":")
    .replace(/&tab;|&newline;/gi, "");
}

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);

/**
 * The address to write, or null to drop the link. Browsers ignore control characters and whitespace
 * inside a scheme (`java\tscript:`), so they are removed before looking for one; anything with a
 * scheme outside http, https and mailto is refused, anything without one is relative and kept.
 */
export function safeUrl(href: string): string | null {
  const plain = decodeEntities(href).replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(plain);
  if (scheme && !SAFE_SCHEMES.has(scheme[1]!.toLowerCase() + ":")) return null;
  // `//evil.example` is protocol-relative: an http(s) address, fine; `\\` some browsers treat alike.
  if (/^[\\/]{2}/.test(plain) && !/^\/\//.test(plain)) return null;
  return plain;
}

export interface RenderOptions {
  /**
   * Show images (true, the default: a lab's own pictures), or write each as a link to it (false: for
   * what users write, where an image would load a stranger's address in a reviewer's browser; the
   * CSP would block it anyway, with a console error).
   */
  images?: boolean;
}

export function renderMarkdown(markdown: string, opts: RenderOptions = {}): RenderedMarkdown {
  const codeBlocks: CodeBlock[] = [];
  const marked = new Marked({
    gfm: true,
    async: false,
    renderer: {
      html({ text }: Tokens.HTML | Tokens.Tag): string {
        return escapeHtml(text);
      },
      link({ href, title, tokens }: Tokens.Link): string {
        const inner = this.parser.parseInline(tokens);
        const url = safeUrl(href);
        if (url === null) return inner;
        const external = /^(https?:)?\/\//i.test(url);
        return `<a href="${escapeHtml(url)}"${title ? ` title="${escapeHtml(title)}"` : ""}${external ? ' rel="noopener noreferrer" target="_blank"' : ""}>${inner}</a>`;
      },
      image({ href, title, text }: Tokens.Image): string {
        const url = safeUrl(href);
        if (url === null || /^mailto:/i.test(url)) return escapeHtml(text);
        if (opts.images === false) return `<a href="${escapeHtml(url)}" rel="noopener noreferrer nofollow" target="_blank">image: ${escapeHtml(text || url)}</a>`;
        return `<img src="${escapeHtml(url)}" alt="${escapeHtml(text)}"${title ? ` title="${escapeHtml(title)}"` : ""} loading="lazy">`;
      },
      code({ text, lang }: Tokens.Code): string {
        const index = codeBlocks.length;
        const language = lang?.trim().split(/\s+/)[0] || null;
        codeBlocks.push({ index, lang: language, text: text.replace(/\n$/, "") });
        const cls = language ? ` class="language-${escapeHtml(language)}"` : "";
        return `<pre><code${cls} data-code-block="${index}">${escapeHtml(text)}</code></pre>\n`;
      },
    },
  });
  const html = marked.parse(markdown, { async: false });
  return { html, codeBlocks };
}
