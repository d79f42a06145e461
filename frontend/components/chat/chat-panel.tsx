"use client";

import { useEffect, useRef } from "react";
import { Composer } from "@/components/chat/composer";
import { AssistantMessage, UserMessage } from "@/components/chat/message-view";
import { Thinking } from "@/components/chat/thinking";
import type { DocentChat } from "@/hooks/use-docent-chat";
import { describeError } from "@/lib/api";

const EXAMPLES = [
  "Summarise the main points of my documents.",
  "What figures are reported for 2023?",
  "Which document mentions deadlines?",
];

export function ChatPanel({ chat, documentCount }: { chat: DocentChat; documentCount: number }) {
  const { messages, status, error, busy } = chat;
  const scrollRef = useRef<HTMLDivElement>(null);
  const stickRef = useRef(true);

  useEffect(() => {
    const el = scrollRef.current;
    if (el && stickRef.current) el.scrollTop = el.scrollHeight;
  }, [messages, status]);

  const last = messages[messages.length - 1];
  const showPending = status === "submitted" && last?.role === "user";

  return (
    <div className="chat">
      <header className="chat-head">
        <div>
          <h2 className="chat-title">Ask your documents</h2>
          <p className="chat-sub">
            {chat.conversationId ? "Follow-up questions continue this conversation." : "Answers cite the passages they come from."}
          </p>
        </div>
        <button
          type="button"
          className="button secondary"
          onClick={chat.newConversation}
          disabled={messages.length === 0 && !busy}
          data-testid="new-conversation"
        >
          New conversation
        </button>
      </header>

      <div
        className="chat-scroll"
        ref={scrollRef}
        onScroll={(e) => {
          const el = e.currentTarget;
          stickRef.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        <div className="chat-log" aria-live="polite">
          {messages.length === 0 && (
            <div className="empty">
              <h3>What would you like to know?</h3>
              <p>
                {documentCount === 0
                  ? "Add documents on the left, then ask a question. Every answer links to the pages it quotes."
                  : `Ask about the ${documentCount} ${documentCount === 1 ? "document" : "documents"} in your library. Every answer links to the pages it quotes.`}
              </p>
              {documentCount > 0 && (
                <div className="examples">
                  {EXAMPLES.map((q) => (
                    <button key={q} type="button" className="chip" onClick={() => void chat.ask(q)} disabled={busy}>
                      {q}
                    </button>
                  ))}
                </div>
              )}
            </div>
          )}
          {messages.map((m, i) =>
            m.role === "user" ? (
              <UserMessage key={m.id} message={m} />
            ) : m.role === "assistant" ? (
              <AssistantMessage key={m.id} message={m} streaming={busy && i === messages.length - 1} />
            ) : null,
          )}
          {showPending && (
            <div className="msg msg-assistant pending">
              <div className="avatar" aria-hidden="true">
                d
              </div>
              <div className="msg-body">
                <Thinking>Searching your documents…</Thinking>
              </div>
            </div>
          )}
          {error && (
            <div className="chat-error" role="alert" data-testid="chat-error">
              <span>{describeError(error)}</span>
              <button type="button" className="link-button" onClick={chat.clearError}>
                Dismiss
              </button>
            </div>
          )}
        </div>
      </div>

      <div className="composer-wrap">
        <Composer
          busy={busy}
          onSend={chat.ask}
          onStop={() => void chat.stop()}
          placeholder={documentCount === 0 ? "Add a document first, or ask anyway…" : "Ask a question about your documents…"}
        />
        <p className="composer-hint">Enter to send · Shift+Enter for a new line</p>
      </div>
    </div>
  );
}
