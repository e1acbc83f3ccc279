/**
 * Notes as markdown rendered safely: raw HTML in the source is shown as text, links and images only keep
 * http(s)/mailto/relative URLs, and links open in a new tab without an opener. No sanitiser library needed
 * because nothing the author writes ever reaches the DOM as markup.
 */
import { Marked, type Tokens } from "marked";

const escapes: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** HTML-escapes text. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => escapes[c]);
}

/** Whether a URL may appear in rendered notes (no `javascript:`, `data:`, `vbscript:`…). */
export function isSafeUrl(url: string): boolean {
  // deno-lint-ignore no-control-regex
  const u = url.replace(/[\u0000-\u0020\u007f]/g, "").toLowerCase();
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(u);
  return !scheme || ["http", "https", "mailto"].includes(scheme[1]);
}

const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(token.text);
    },
    link(token: Tokens.Link): string {
      const text = this.parser.parseInline(token.tokens);
      if (!isSafeUrl(token.href)) return text;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : "";
      return `<a href="${
        escapeHtml(token.href)
      }"${title} target="_blank" rel="noopener noreferrer">${text}</a>`;
    },
    image(token: Tokens.Image): string {
      if (!isSafeUrl(token.href)) return escapeHtml(token.text);
      return `<img src="${escapeHtml(token.href)}" alt="${escapeHtml(token.text)}">`;
    },
  },
});

/** Markdown → HTML that is safe to put in `dangerouslySetInnerHTML`. */
export function renderMarkdown(source: string): string {
  return marked.parse(source) as string;
}
