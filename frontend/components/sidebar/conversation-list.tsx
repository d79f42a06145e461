"use client";

import type { ConversationsState } from "@/hooks/use-conversations";
import { formatDate } from "@/lib/format";

interface Props {
  state: ConversationsState;
  activeId: string | undefined;
  onOpen: (id: string) => void | Promise<void>;
  onDelete: (id: string) => void | Promise<void>;
}

export function ConversationList({ state, activeId, onOpen, onDelete }: Props) {
  const { conversations, error } = state;
  if (conversations.length === 0 && !error) return null;
  return (
    <section className="panel" aria-labelledby="conv-heading">
      <div className="panel-head">
        <h2 id="conv-heading" className="panel-title">
          Conversations
        </h2>
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <ul className="conv-list">
        {conversations.map((c) => (
          <li key={c.id} className={`conv${c.id === activeId ? " is-active" : ""}`}>
            <button type="button" className="conv-open" onClick={() => void onOpen(c.id)} title={c.title}>
              <span className="conv-title">{c.title || "Untitled conversation"}</span>
              <span className="conv-date">{formatDate(c.updated_at || c.created_at)}</span>
            </button>
            <button
              type="button"
              className="icon-button"
              aria-label={`Delete conversation ${c.title}`}
              title="Delete conversation"
              onClick={() => {
                if (window.confirm("Delete this conversation?")) void onDelete(c.id);
              }}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
