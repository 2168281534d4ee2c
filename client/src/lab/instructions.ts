/**
 * The lab's instructions: the server's sanitized HTML (server/web/markdown.ts), headings one level
 * down (the page's h1 is the lab's title), with a "Paste"
 * button on every fenced block that puts its text into the active terminal (clicking the block does
 * the same, unless text is being selected in it).
 */
import type { LabDetail } from "../api";
import { h, trustedHtml } from "../dom";

export function instructions(lab: LabDetail, paste: (text: string) => boolean): HTMLElement {
  const article = h("article", { class: "instructions", "aria-label": "Instructions" });
  trustedHtml(article, lab.html);
  // The page's h1 is the lab's title: the instructions' headings go one level down.
  for (const heading of [...article.querySelectorAll("h1, h2, h3, h4, h5")].reverse()) {
    const lower = document.createElement(`h${Number(heading.tagName[1]) + 1}`);
    lower.append(...heading.childNodes);
    heading.replaceWith(lower);
  }
  for (const code of article.querySelectorAll<HTMLElement>("code[data-code-block]")) {
    const block = lab.codeBlocks[Number(code.dataset.codeBlock)];
    const pre = code.parentElement;
    if (!block || !pre) continue;
    const firstLine = block.text.split("\n")[0]!.slice(0, 60);
    const button = h(
      "button",
      { type: "button", class: "paste", title: "Paste into the terminal", "aria-label": `Paste into the terminal: ${firstLine}`, onclick: () => paste(block.text) },
      "Paste",
    );
    pre.classList.add("pasteable");
    pre.addEventListener("click", (e) => {
      if (e.target === button || (window.getSelection()?.toString() ?? "") !== "") return;
      paste(block.text);
    });
    const wrapper = h("div", { class: "code-block" });
    pre.replaceWith(wrapper);
    wrapper.append(button, pre);
  }
  return article;
}
