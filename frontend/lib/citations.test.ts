import { describe, expect, it } from "vitest";
import {
  buildSnippet,
  citedNumbers,
  groupCitations,
  highlightText,
  normalizeSpans,
  pageLabel,
  resolveCitationSpan,
  splitCitationMarkers,
} from "@/lib/citations";
import type { Citation, Source } from "@/lib/schemas";

describe("splitCitationMarkers", () => {
  it("splits text and single markers", () => {
    expect(splitCitationMarkers("Tromsø had 212 clear nights [1].")).toEqual([
      { type: "text", value: "Tromsø had 212 clear nights " },
      { type: "marker", n: 1 },
      { type: "text", value: "." },
    ]);
  });

  it("splits adjacent markers and list markers", () => {
    expect(splitCitationMarkers("A [2][3] B [4, 5]")).toEqual([
      { type: "text", value: "A " },
      { type: "marker", n: 2 },
      { type: "marker", n: 3 },
      { type: "text", value: " B " },
      { type: "marker", n: 4 },
      { type: "marker", n: 5 },
    ]);
  });

  it("leaves text without markers whole, and ignores non-numeric brackets", () => {
    expect(splitCitationMarkers("no [citations] here [a1]")).toEqual([
      { type: "text", value: "no [citations] here [a1]" },
    ]);
    expect(splitCitationMarkers("")).toEqual([]);
  });

  it("handles a marker at the very start and end", () => {
    expect(splitCitationMarkers("[12]x[7]")).toEqual([
      { type: "marker", n: 12 },
      { type: "text", value: "x" },
      { type: "marker", n: 7 },
    ]);
  });

  it("lists distinct cited numbers in order of appearance", () => {
    expect(citedNumbers("a [3] b [1][3] c [2, 1]")).toEqual([3, 1, 2]);
  });
});

describe("spans and highlighting", () => {
  it("normalises spans: clamps, orders, drops empty, merges overlaps", () => {
    expect(
      normalizeSpans(
        [
          { start: 8, end: 12 },
          { start: -5, end: 2 },
          { start: 10, end: 15 },
          { start: 4, end: 4 },
          { start: 30, end: 20 },
        ],
        18,
      ),
    ).toEqual([
      { start: 0, end: 2 },
      { start: 8, end: 15 },
    ]);
  });

  it("cuts text into plain and highlighted parts that rejoin to the original", () => {
    const text = "The observatory recorded 212 clear nights in 2023.";
    const parts = highlightText(text, [{ start: 25, end: 41 }]);
    expect(parts).toEqual([
      { text: "The observatory recorded ", highlighted: false },
      { text: "212 clear nights", highlighted: true },
      { text: " in 2023.", highlighted: false },
    ]);
    expect(parts.map((p) => p.text).join("")).toBe(text);
  });

  it("returns the whole text unhighlighted when there are no spans", () => {
    expect(highlightText("abc", [])).toEqual([{ text: "abc", highlighted: false }]);
  });

  it("builds a snippet window around the highlight, snapped to words", () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const text = words.join(" ");
    const start = text.indexOf("w100");
    const end = start + "w100 w101".length;
    const snippet = buildSnippet(text, [{ start, end }], { context: 30 });
    expect(snippet.truncatedStart).toBe(true);
    expect(snippet.truncatedEnd).toBe(true);
    const highlighted = snippet.parts.filter((p) => p.highlighted).map((p) => p.text);
    expect(highlighted).toEqual(["w100 w101"]);
    const joined = snippet.parts.map((p) => p.text).join("");
    expect(text).toContain(joined);
    expect(joined.startsWith("w")).toBe(true); // not cut mid-word
    expect(joined.length).toBeLessThanOrEqual(end - start + 60);
  });

  it("shows the opening of a passage when nothing is highlighted", () => {
    const snippet = buildSnippet("short passage", []);
    expect(snippet).toEqual({
      parts: [{ text: "short passage", highlighted: false }],
      truncatedStart: false,
      truncatedEnd: false,
    });
  });
});

describe("resolveCitationSpan", () => {
  const text = "Alpha beta. The Aurora observatory recorded 212 clear nights. Gamma.";
  const quote = "The Aurora observatory recorded 212 clear nights.";
  const start = text.indexOf(quote);

  it("trusts offsets that select the quote", () => {
    expect(resolveCitationSpan(text, { span_start: start, span_end: start + quote.length, quote })).toEqual({
      start,
      end: start + quote.length,
    });
  });

  it("falls back to finding the quote when offsets are off", () => {
    expect(resolveCitationSpan(text, { span_start: 0, span_end: 5, quote })).toEqual({
      start,
      end: start + quote.length,
    });
  });

  it("uses clamped offsets when the quote is absent or not found", () => {
    expect(resolveCitationSpan(text, { span_start: 6, span_end: 999, quote: "" })).toEqual({
      start: 6,
      end: text.length,
    });
    expect(resolveCitationSpan(text, { span_start: 0, span_end: 5, quote: "not in text" })).toEqual({
      start: 0,
      end: 5,
    });
    expect(resolveCitationSpan(text, { span_start: 500, span_end: 600, quote: "" })).toBeNull();
  });
});

describe("groupCitations", () => {
  const source = (n: number, text: string, page = 2): Source => ({
    n,
    chunk_id: `c${n}`,
    document_id: "d1",
    filename: "aurora.pdf",
    page_start: page,
    page_end: page,
    char_start: 0,
    char_end: text.length,
    text,
    score: 0.5,
    section: "",
  });
  const citation = (n: number, span_start: number, span_end: number, quote: string, extra: Partial<Citation> = {}): Citation => ({
    n,
    chunk_id: `c${n}`,
    document_id: "d1",
    filename: "aurora.pdf",
    page: 2,
    span_start,
    span_end,
    quote,
    verdict: "supported",
    ...extra,
  });

  it("groups citations per source number, sorted, with resolved spans", () => {
    const sources = [source(1, "First passage text."), source(2, "Second passage. It has two claims.")];
    const items = groupCitations(sources, [
      citation(2, 16, 34, "It has two claims."),
      citation(1, 0, 5, "First"),
      citation(2, 0, 15, "Second passage."),
    ]);
    expect(items.map((i) => i.n)).toEqual([1, 2]);
    expect(items[1]?.spans).toEqual([
      { start: 16, end: 34 },
      { start: 0, end: 15 },
    ]);
    expect(items[1]?.citations).toHaveLength(2);
    expect(items[0]).toMatchObject({ filename: "aurora.pdf", page: 2, documentId: "d1", verdict: "supported" });
  });

  it("marks a source weak only when all its citations are weak", () => {
    const sources = [source(1, "abc def")];
    expect(groupCitations(sources, [citation(1, 0, 3, "abc", { verdict: "weak" })])[0]?.verdict).toBe("weak");
    expect(
      groupCitations(sources, [citation(1, 0, 3, "abc", { verdict: "weak" }), citation(1, 4, 7, "def")])[0]?.verdict,
    ).toBe("supported");
  });

  it("builds an entry from the quote when the source is unknown", () => {
    const [item] = groupCitations([], [citation(4, 10, 20, "A quoted claim.", { page: 7, filename: "x.pdf" })]);
    expect(item).toMatchObject({ n: 4, filename: "x.pdf", page: 7, text: "A quoted claim.", source: undefined });
    expect(item?.spans).toEqual([{ start: 0, end: "A quoted claim.".length }]);
  });

  it("formats page labels", () => {
    expect(pageLabel(2)).toBe("p. 2");
    expect(pageLabel(2, 2)).toBe("p. 2");
    expect(pageLabel(2, 3)).toBe("pp. 2–3");
  });
});
