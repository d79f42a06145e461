"use client";

import { useState } from "react";
import type { DocumentsState } from "@/hooks/use-documents";
import { documentFileUrl } from "@/lib/api";
import { formatBytes } from "@/lib/format";
import type { DocumentInfo } from "@/lib/schemas";

function DocumentRow({ doc, onDelete }: { doc: DocumentInfo; onDelete: (d: DocumentInfo) => Promise<boolean> }) {
  const [deleting, setDeleting] = useState(false);
  const details: string[] = [];
  if (doc.pages !== null) details.push(`${doc.pages} ${doc.pages === 1 ? "page" : "pages"}`);
  details.push(`${doc.chunks} ${doc.chunks === 1 ? "chunk" : "chunks"}`);
  if (doc.size_bytes > 0) details.push(formatBytes(doc.size_bytes));

  const remove = async () => {
    if (!window.confirm(`Delete “${doc.filename}” from the library?`)) return;
    setDeleting(true);
    const ok = await onDelete(doc);
    if (!ok) setDeleting(false);
  };

  return (
    <li className={`doc${deleting ? " is-deleting" : ""}`} data-testid="document-row" data-document-id={doc.id}>
      <div className="doc-main">
        <a
          className="doc-name"
          href={documentFileUrl(doc.id)}
          target="_blank"
          rel="noopener noreferrer"
          title={`Open ${doc.filename}`}
        >
          {doc.filename}
        </a>
        <div className="doc-meta">
          <span className={`status-pill status-${doc.status}`}>{doc.status}</span>
          <span>{details.join(" · ")}</span>
        </div>
        {doc.pages_without_text > 0 && (
          <div className="doc-note">
            {doc.pages_without_text} {doc.pages_without_text === 1 ? "page has" : "pages have"} no text layer
          </div>
        )}
        {doc.status === "failed" && doc.error && <div className="doc-error">{doc.error}</div>}
      </div>
      <button
        type="button"
        className="icon-button danger"
        aria-label={`Delete ${doc.filename}`}
        title="Delete"
        disabled={deleting}
        onClick={() => void remove()}
      >
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3" />
        </svg>
      </button>
    </li>
  );
}

export function DocumentList({ state }: { state: DocumentsState }) {
  const { documents, loading, error } = state;
  return (
    <section className="panel" aria-labelledby="docs-heading">
      <div className="panel-head">
        <h2 id="docs-heading" className="panel-title">
          Library {documents.length > 0 && <span className="count">{documents.length}</span>}
        </h2>
        <button type="button" className="link-button" onClick={() => void state.refresh()}>
          Refresh
        </button>
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      {loading && documents.length === 0 ? (
        <p className="muted">Loading…</p>
      ) : documents.length === 0 ? (
        <p className="muted">No documents yet. Add a file to start asking questions.</p>
      ) : (
        <ul className="doc-list">
          {documents.map((doc) => (
            <DocumentRow key={doc.id} doc={doc} onDelete={state.remove} />
          ))}
        </ul>
      )}
    </section>
  );
}
