import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { CitedSources, RetrievedSources } from "@/components/chat/source-list";
import { groupCitations } from "@/lib/citations";
import type { Source } from "@/lib/schemas";

const source = (n: number, section: string): Source => ({
  n,
  chunk_id: `c${n}`,
  document_id: "d1",
  filename: "report.docx",
  page_start: 2,
  page_end: 2,
  char_start: 0,
  char_end: 10,
  text: "Revenue grew.",
  score: 0.5,
  section,
});

const renderRetrieved = (sources: Source[]) =>
  renderToStaticMarkup(
    <RetrievedSources messageId="m1" sources={sources} open onToggle={() => {}} activeN={null} label="2 passages" />,
  );

describe("RetrievedSources", () => {
  it("shows the section after the page label when known", () => {
    const html = renderRetrieved([source(1, "Report > Revenue"), source(2, "")]);
    expect(html.match(/data-testid="source-section"/g)).toHaveLength(1);
    expect(html).toMatch(/class="source-page">p\. 2<\/span><span class="source-section" title="Report &gt; Revenue"[^>]*>Report &gt; Revenue<\/span>/);
  });
});

describe("CitedSources", () => {
  it("shows the cited passage's section", () => {
    const items = groupCitations(
      [source(1, "Report > Revenue")],
      [{ n: 1, chunk_id: "c1", document_id: "d1", filename: "report.docx", page: 2, span_start: 0, span_end: 7, quote: "Revenue", verdict: "supported" }],
    );
    const html = renderToStaticMarkup(<CitedSources messageId="m1" items={items} activeN={null} />);
    expect(html).toContain('class="source-section"');
    expect(html).toContain(">Report &gt; Revenue</span>");
  });
});
