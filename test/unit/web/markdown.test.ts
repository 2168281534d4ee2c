/**
 * Lab instructions rendered for the browser: nothing active survives (raw HTML, script URLs in links
 * and images, event handlers), ordinary markdown does, and fenced code blocks are numbered for pasting.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderMarkdown, safeUrl } from "../../../server/web/markdown.js";

describe("renderMarkdown", () => {
  it("renders ordinary markdown", () => {
    const { html } = renderMarkdown("# Title\n\nSome *emphasis*, `code` and a [link](https://kubernetes.io/docs/ \"docs\").\n\n- one\n- two\n");
    assert.match(html, /<h1>Title<\/h1>/);
    assert.match(html, /<em>emphasis<\/em>/);
    assert.match(html, /<code>code<\/code>/);
    assert.match(html, /<a href="https:\/\/kubernetes.io\/docs\/" title="docs" rel="noopener noreferrer" target="_blank">link<\/a>/);
    assert.match(html, /<li>one<\/li>/);
  });

  it("shows raw HTML as text, block and inline", () => {
    const { html } = renderMarkdown('<script>alert(1)</script>\n\nhi <img src=x onerror="alert(1)"> <b onclick=x>bold</b>\n\n<iframe src="https://evil.example"></iframe>\n');
    assert.doesNotMatch(html, /<script|<img|<b |<iframe/i);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
  });

  it("drops links and images whose address could run code, keeping their text", () => {
    const vectors = [
      "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "&#106;avascript:alert(1)", "&#x6A;avascript:alert(1)",
      "javascript&colon;alert(1)", "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", " javascript:alert(1)",
    ];
    for (const v of vectors) {
      const { html } = renderMarkdown(`[click](${v}) ![pic](${v})`);
      assert.doesNotMatch(html, /href=|src=/, `${v}: ${html}`);
      assert.match(html, /click/);
    }
    const auto = renderMarkdown("<javascript:alert(1)>").html;
    assert.doesNotMatch(auto, /href=/, auto);
  });

  it("keeps http(s), mailto and relative addresses, escaped", () => {
    assert.equal(safeUrl("https://example.com/a?b=1&c=2"), "https://example.com/a?b=1&c=2");
    assert.equal(safeUrl("mailto:team@example.com"), "mailto:team@example.com");
    assert.equal(safeUrl("../concepts/calico-ipam.md#blocks"), "../concepts/calico-ipam.md#blocks");
    assert.equal(safeUrl("//cdn.example.com/x.png"), "//cdn.example.com/x.png");
    assert.equal(safeUrl("\\\\evil.example/x"), null);
    const { html } = renderMarkdown('[q](https://example.com/?a="x"&b=<y>)');
    assert.doesNotMatch(html, /href="[^"]*"[^>]*"x"/, html);
  });

  it("writes images as links with images: false (write-ups: nothing of a stranger's loads in a reviewer's browser)", () => {
    const { html } = renderMarkdown('![pixel](https://tracker.example/p.png "t") ![x](data:image/png;base64,AAAA) ![y](javascript:alert(1)) ![](https://a.example/b.png)', { images: false });
    assert.doesNotMatch(html, /<img|src=/, html);
    assert.match(html, /<a href="https:\/\/tracker\.example\/p\.png" rel="noopener noreferrer nofollow" target="_blank">image: pixel<\/a>/);
    assert.match(html, /<a href="https:\/\/a\.example\/b\.png" rel="noopener noreferrer nofollow" target="_blank">image: https:\/\/a\.example\/b\.png<\/a>/);
    assert.doesNotMatch(html, /data:|javascript:/);
    assert.match(renderMarkdown("![pixel](https://tracker.example/p.png)").html, /<img src="https:\/\/tracker\.example\/p\.png"/, "lab instructions keep theirs");
  });

  it("numbers fenced code blocks and returns their text for click-to-paste", () => {
    const md = "Run:\n\n```sh\nkubectl get nodes\n```\n\nthen\n\n```\nip route | grep blackhole\n```\n\nand `inline` is not a block.\n\n```yaml\na: <b>\n```\n";
    const { html, codeBlocks } = renderMarkdown(md);
    assert.deepEqual(codeBlocks, [
      { index: 0, lang: "sh", text: "kubectl get nodes" },
      { index: 1, lang: null, text: "ip route | grep blackhole" },
      { index: 2, lang: "yaml", text: "a: <b>" },
    ]);
    assert.match(html, /<pre><code class="language-sh" data-code-block="0">kubectl get nodes<\/code><\/pre>/);
    assert.match(html, /data-code-block="1">ip route \| grep blackhole/);
    assert.match(html, /a: &lt;b&gt;/, "code is escaped");
  });

  it("a hostile language name cannot break out of the class attribute", () => {
    const { html } = renderMarkdown('```sh"><script>alert(1)</script>\necho\n```\n');
    assert.doesNotMatch(html, /<script/);
  });
});
