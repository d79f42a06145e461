"use client";

import { documentFileUrl } from "@/lib/api";
import { buildSnippet, pageLabel, type CitedSource, type Span } from "@/lib/citations";
import type { Source } from "@/lib/schemas";

export const sourceAnchorId = (messageId: string, n: number, kind: "cited" | "retrieved"): string =>
  `src-${kind}-${messageId}-${n}`.replace(/[^A-Za-z0-9_-]/g, "_");

function Snippet({ text, spans }: { text: string; spans: readonly Span[] }) {
  const snippet = buildSnippet(text, spans);
  return (
    <p className="snippet">
      {snippet.truncatedStart && "… "}
      {snippet.parts.map((part, i) => (part.highlighted ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}
      {snippet.truncatedEnd && " …"}
    </p>
  );
}

/** The passage's heading path ("Report > Revenue"), nothing when unknown. */
export function SectionLabel({ section }: { section: string | undefined }) {
  const text = section?.trim();
  if (!text) return null;
  return (
    <span className="source-section" title={text} data-testid="source-section">
      {text}
    </span>
  );
}

interface CitedProps {
  messageId: string;
  items: readonly CitedSource[];
  activeN: number | null;
}

/** The sources the answer cites, each with the supporting passage highlighted. */
export function CitedSources({ messageId, items, activeN }: CitedProps) {
  if (items.length === 0) return null;
  return (
    <section className="sources" aria-label="Sources">
      <h3 className="sources-title">Sources</h3>
      <ol className="source-list">
        {items.map((item) => (
          <li
            key={item.n}
            id={sourceAnchorId(messageId, item.n, "cited")}
            className={`source${activeN === item.n ? " is-active" : ""}`}
            tabIndex={-1}
            data-testid="source-item"
            data-n={item.n}
          >
            <div className="source-head">
              <span className="source-n">{item.n}</span>
              <a
                className="source-file"
                href={documentFileUrl(item.documentId, item.page)}
                target="_blank"
                rel="noopener noreferrer"
                title={`Open ${item.filename} at page ${item.page}`}
              >
                {item.filename}
              </a>
              <span className="source-page">{pageLabel(item.page)}</span>
              <SectionLabel section={item.source?.section} />
              {item.verdict === "weak" && (
                <span className="verdict-weak" title="The passage only partly supports this claim">
                  weak support
                </span>
              )}
            </div>
            <Snippet text={item.text} spans={item.spans} />
          </li>
        ))}
      </ol>
    </section>
  );
}

interface RetrievedProps {
  messageId: string;
  sources: readonly Source[];
  open: boolean;
  onToggle: (open: boolean) => void;
  activeN: number | null;
  label: string;
}

/** Every passage retrieved for the question, collapsed by default. */
export function RetrievedSources({ messageId, sources, open, onToggle, activeN, label }: RetrievedProps) {
  if (sources.length === 0) return null;
  return (
    <details
      className="retrieved"
      open={open}
      onToggle={(e) => {
        const next = e.currentTarget.open;
        if (next !== open) onToggle(next);
      }}
    >
      <summary>{label}</summary>
      <ol className="source-list compact">
        {sources.map((s) => (
          <li
            key={`${s.n}-${s.chunk_id}`}
            id={sourceAnchorId(messageId, s.n, "retrieved")}
            className={`source${activeN === s.n ? " is-active" : ""}`}
            tabIndex={-1}
            data-testid="retrieved-item"
          >
            <div className="source-head">
              <span className="source-n">{s.n}</span>
              <a
                className="source-file"
                href={documentFileUrl(s.document_id, s.page_start)}
                target="_blank"
                rel="noopener noreferrer"
              >
                {s.filename}
              </a>
              <span className="source-page">{pageLabel(s.page_start, s.page_end)}</span>
              <SectionLabel section={s.section} />
            </div>
            <Snippet text={s.text} spans={[]} />
          </li>
        ))}
      </ol>
    </details>
  );
}
