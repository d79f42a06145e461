import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { AnswerMarkdown } from "@/components/chat/answer-markdown";

const render = (text: string, known?: Set<number>) => renderToStaticMarkup(<AnswerMarkdown text={text} knownSources={known} />);

describe("AnswerMarkdown", () => {
  it("renders [n] markers as citation badges", () => {
    const html = render("Tromsø recorded **212** clear nights [1][2].");
    expect(html).toContain("<strong>212</strong>");
    expect(html.match(/data-testid="citation-marker"/g)).toHaveLength(2);
    expect(html).toContain('data-n="1"');
    expect(html).toContain('data-n="2"');
    expect(html).not.toContain("[1]");
  });

  it("never renders raw HTML from the answer", () => {
    const html = render('Hi <script>alert(1)</script> <img src=x onerror="alert(2)"> [1]');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;");
  });

  it("drops javascript: links and markdown images", () => {
    const html = render("[click](javascript:alert(1)) ![pixel](https://tracker.example/p.gif)");
    expect(html).not.toContain("javascript:");
    expect(html).not.toContain("<img");
    expect(html).toContain("[image: pixel]");
  });

  it("keeps markers literal inside code", () => {
    const html = render("Use `arr[1]` here [3].");
    expect(html).toContain("<code>arr[1]</code>");
    expect(html.match(/data-testid="citation-marker"/g)).toHaveLength(1);
  });

  it("marks badges for unknown sources", () => {
    const html = render("A [1] B [9]", new Set([1]));
    expect(html).toMatch(/class="cite"[^>]*data-n="1"/);
    expect(html).toMatch(/class="cite is-unknown"[^>]*data-n="9"/);
  });
});
