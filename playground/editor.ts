/**
 * @fileoverview The spec editor: a plain textarea over a backdrop that
 * repeats its text with each diagnostic's span underlined, a line-number
 * gutter that marks lines with problems, and the diagnostics list (code,
 * line:col, message, fix). Clicking a diagnostic selects its span.
 */
import type { Diagnostic } from "../compiler/diagnostics/types.ts";

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export class SpecEditor {
  private diagnostics: Diagnostic[] = [];

  constructor(
    readonly textarea: HTMLTextAreaElement,
    private readonly backdrop: HTMLElement,
    private readonly gutter: HTMLElement,
    private readonly list: HTMLElement,
  ) {
    textarea.addEventListener("scroll", () => this.syncScroll());
    textarea.addEventListener("input", () => this.render());
    // Tab inserts two spaces instead of leaving the editor.
    textarea.addEventListener("keydown", (e) => {
      if (e.key !== "Tab" || e.shiftKey || e.ctrlKey || e.metaKey || e.altKey) return;
      e.preventDefault();
      const { selectionStart: a, selectionEnd: b, value } = textarea;
      textarea.value = value.slice(0, a) + "  " + value.slice(b);
      textarea.selectionStart = textarea.selectionEnd = a + 2;
      textarea.dispatchEvent(new Event("input"));
    });
  }

  get value(): string {
    return this.textarea.value;
  }

  set value(text: string) {
    this.textarea.value = text;
    this.render();
  }

  /** Show `list` (spans refer to the current text). */
  setDiagnostics(list: Diagnostic[]): void {
    this.diagnostics = list;
    this.render();
    this.renderList();
  }

  private syncScroll(): void {
    this.backdrop.scrollTop = this.textarea.scrollTop;
    this.backdrop.scrollLeft = this.textarea.scrollLeft;
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  private render(): void {
    const text = this.textarea.value;
    // Marks in source order, without overlaps; an empty span (end of file) marks one blank.
    const spans = this.diagnostics
      .filter((d) => d.span)
      .map((d) => ({ start: Math.min(d.span!.offset, text.length), end: Math.min(text.length, d.span!.offset + Math.max(1, d.span!.length)), severity: d.severity }))
      .sort((a, b) => a.start - b.start);
    let html = "", at = 0;
    for (const s of spans) {
      if (s.start < at) continue;
      html += escape(text.slice(at, s.start));
      const inner = text.slice(s.start, s.end);
      html += `<mark class="${s.severity}">${inner === "" || inner === "\n" ? " " : escape(inner)}</mark>${inner === "\n" ? "\n" : ""}`;
      at = Math.max(s.end, s.start);
    }
    html += escape(text.slice(at));
    // A trailing newline needs a visible last line so that the backdrop scrolls as far as the textarea.
    this.backdrop.innerHTML = html + "\n ";
    const lines = text.split("\n").length;
    const worst = new Map<number, string>();
    for (const d of this.diagnostics) {
      if (!d.span) continue;
      if (d.severity === "error" || !worst.has(d.span.line)) worst.set(d.span.line, d.severity === "error" ? "bad" : "warn");
    }
    let g = "";
    for (let i = 1; i <= lines; i++) {
      const cls = worst.get(i);
      g += cls ? `<span class="${cls}">${i}</span>\n` : `${i}\n`;
    }
    this.gutter.innerHTML = g + " ";
    this.syncScroll();
  }

  private renderList(): void {
    this.list.replaceChildren();
    for (const d of this.diagnostics) {
      const li = document.createElement("li");
      li.className = d.severity;
      li.dataset.code = d.code;
      const where = d.span ? `${d.span.line}:${d.span.column}` : "";
      li.innerHTML =
        `<span class="code-id">${escape(d.code)}</span> <span class="where">${escape(where)}</span> ${escape(d.severity)}: <span class="msg">${escape(d.message)}</span>` +
        (d.hint ? `<div class="hint">fix: ${escape(d.hint)}</div>` : "");
      if (d.span) {
        li.addEventListener("click", () => {
          this.textarea.focus();
          this.textarea.setSelectionRange(d.span!.offset, d.span!.offset + d.span!.length);
        });
      }
      this.list.append(li);
    }
  }
}
