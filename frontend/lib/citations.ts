/**
 * Pure helpers for citations: finding `[n]` markers in answer text, resolving and
 * highlighting the cited span inside a source passage, and grouping citations per source.
 */
import type { Citation, Source } from "@/lib/schemas";

export type Segment = { type: "text"; value: string } | { type: "marker"; n: number };

/** `[1]`, `[12]`, and the list form `[1, 2]`; up to three digits per number. */
const MARKER_RE = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

/**
 * Split text into plain runs and citation markers. `"a [1][2] b"` gives
 * text "a ", marker 1, marker 2, text " b". Adjacent text is never split in two.
 */
export function splitCitationMarkers(text: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(MARKER_RE)) {
    const start = match.index;
    const list = match[1] ?? "";
    if (start > last) segments.push({ type: "text", value: text.slice(last, start) });
    for (const part of list.split(",")) {
      segments.push({ type: "marker", n: Number.parseInt(part.trim(), 10) });
    }
    last = start + match[0].length;
  }
  if (last < text.length) segments.push({ type: "text", value: text.slice(last) });
  return segments;
}

/** The distinct marker numbers in order of first appearance. */
export function citedNumbers(text: string): number[] {
  const seen = new Set<number>();
  for (const seg of splitCitationMarkers(text)) if (seg.type === "marker") seen.add(seg.n);
  return [...seen];
}

export interface Span {
  start: number;
  end: number;
}

/** Clamp spans to `[0, length]`, drop empty ones, sort and merge overlapping/adjacent ones. */
export function normalizeSpans(spans: readonly Span[], length: number): Span[] {
  const clamped = spans
    .map((s) => ({
      start: Math.max(0, Math.min(length, Math.min(s.start, s.end))),
      end: Math.max(0, Math.min(length, Math.max(s.start, s.end))),
    }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: Span[] = [];
  for (const span of clamped) {
    const prev = merged[merged.length - 1];
    if (prev && span.start <= prev.end) prev.end = Math.max(prev.end, span.end);
    else merged.push({ ...span });
  }
  return merged;
}

const squash = (s: string): string => s.replace(/\s+/g, " ").trim();

/**
 * Where in `text` the citation points. The offsets are trusted when they select the quote
 * (whitespace-insensitively) or when no quote is given; otherwise the quote is looked up
 * in the text, and the clamped offsets are the last resort.
 */
export function resolveCitationSpan(
  text: string,
  citation: Pick<Citation, "span_start" | "span_end" | "quote">,
): Span | null {
  const bySpan = normalizeSpans([{ start: citation.span_start, end: citation.span_end }], text.length)[0];
  const quote = citation.quote.trim();
  if (!quote) return bySpan ?? null;
  if (bySpan && squash(text.slice(bySpan.start, bySpan.end)) === squash(quote)) return bySpan;
  const found = text.indexOf(quote);
  if (found >= 0) return { start: found, end: found + quote.length };
  return bySpan ?? null;
}

export interface HighlightPart {
  text: string;
  highlighted: boolean;
}

/** Cut `text` into alternating plain and highlighted parts along the given spans. */
export function highlightText(text: string, spans: readonly Span[]): HighlightPart[] {
  const parts: HighlightPart[] = [];
  let pos = 0;
  for (const span of normalizeSpans(spans, text.length)) {
    if (span.start > pos) parts.push({ text: text.slice(pos, span.start), highlighted: false });
    parts.push({ text: text.slice(span.start, span.end), highlighted: true });
    pos = span.end;
  }
  if (pos < text.length) parts.push({ text: text.slice(pos), highlighted: false });
  return parts;
}

export interface Snippet {
  parts: HighlightPart[];
  truncatedStart: boolean;
  truncatedEnd: boolean;
}

/**
 * A readable excerpt of `text`: the highlighted spans with `context` characters around
 * them (snapped to word boundaries), or the opening `maxPlain` characters when there is
 * nothing to highlight.
 */
export function buildSnippet(
  text: string,
  spans: readonly Span[],
  { context = 160, maxPlain = 320 }: { context?: number; maxPlain?: number } = {},
): Snippet {
  const merged = normalizeSpans(spans, text.length);
  const first = merged[0];
  const lastSpan = merged[merged.length - 1];
  let from: number;
  let to: number;
  if (!first || !lastSpan) {
    from = 0;
    to = Math.min(text.length, maxPlain);
  } else {
    from = Math.max(0, first.start - context);
    to = Math.min(text.length, lastSpan.end + context);
  }
  if (from > 0) {
    const space = text.indexOf(" ", from);
    if (space >= 0 && space < (first?.start ?? to)) from = space + 1;
  }
  if (to < text.length) {
    const space = text.lastIndexOf(" ", to);
    if (space > (lastSpan?.end ?? from)) to = space;
  }
  const shifted = merged.map((s) => ({ start: s.start - from, end: s.end - from }));
  return {
    parts: highlightText(text.slice(from, to), shifted),
    truncatedStart: from > 0,
    truncatedEnd: to < text.length,
  };
}

export interface CitedSource {
  n: number;
  documentId: string;
  filename: string;
  /** The page to open: the first citation's page, else the passage's first page. */
  page: number;
  /** The passage text (the source's, or the joined quotes when the source is unknown). */
  text: string;
  spans: Span[];
  verdict: "supported" | "weak";
  source: Source | undefined;
  citations: Citation[];
}

/**
 * One entry per cited source number, in ascending `n`. Citations whose source was not
 * streamed still produce an entry, built from their quote.
 */
export function groupCitations(sources: readonly Source[], citations: readonly Citation[]): CitedSource[] {
  const byN = new Map<number, Citation[]>();
  for (const c of citations) {
    const list = byN.get(c.n);
    if (list) list.push(c);
    else byN.set(c.n, [c]);
  }
  const sourceByN = new Map(sources.map((s) => [s.n, s]));
  return [...byN.entries()]
    .sort(([a], [b]) => a - b)
    .map(([n, group]) => {
      const source = sourceByN.get(n);
      const head = group[0] as Citation;
      let text: string;
      let spans: Span[];
      if (source) {
        text = source.text;
        spans = group.map((c) => resolveCitationSpan(text, c)).filter((s): s is Span => s !== null);
      } else {
        const quotes = [...new Set(group.map((c) => c.quote.trim()).filter(Boolean))];
        text = quotes.join(" … ");
        spans = text ? [{ start: 0, end: text.length }] : [];
      }
      return {
        n,
        documentId: source?.document_id ?? head.document_id,
        filename: source?.filename ?? head.filename,
        page: head.page || source?.page_start || 1,
        text,
        spans,
        verdict: group.every((c) => c.verdict === "weak") ? "weak" : "supported",
        source,
        citations: group,
      } satisfies CitedSource;
    });
}

/** "p. 2" or "pp. 2–3". */
export function pageLabel(start: number, end?: number): string {
  return end !== undefined && end > start ? `pp. ${start}–${end}` : `p. ${start}`;
}
