"use client";

import { useCallback, useMemo, useState } from "react";
import { AnswerMarkdown } from "@/components/chat/answer-markdown";
import { CitedSources, RetrievedSources, sourceAnchorId } from "@/components/chat/source-list";
import { Thinking } from "@/components/chat/thinking";
import {
  messageCitations,
  messageMetadata,
  messageSources,
  messageText,
  providerLabel,
  type DocentUIMessage,
} from "@/lib/chat";
import { groupCitations } from "@/lib/citations";

export function UserMessage({ message }: { message: DocentUIMessage }) {
  return (
    <div className="msg msg-user" data-testid="user-message">
      <div className="bubble">{messageText(message)}</div>
    </div>
  );
}

function revealAndFlash(id: string): boolean {
  const el = document.getElementById(id);
  if (!el) return false;
  el.scrollIntoView({ behavior: "smooth", block: "nearest" });
  el.focus({ preventScroll: true });
  el.animate?.(
    [{ backgroundColor: "var(--flash)" }, { backgroundColor: "var(--flash)", offset: 0.4 }, { backgroundColor: "transparent" }],
    { duration: 1400, easing: "ease-out" },
  );
  return true;
}

export function AssistantMessage({ message, streaming }: { message: DocentUIMessage; streaming: boolean }) {
  const text = messageText(message);
  const sources = messageSources(message);
  const citations = messageCitations(message);
  const metadata = messageMetadata(message);
  const label = providerLabel(metadata);
  const [activeN, setActiveN] = useState<number | null>(null);
  const [retrievedOpen, setRetrievedOpen] = useState(false);

  const cited = useMemo(
    () => (citations ? groupCitations(sources ?? [], citations) : []),
    [sources, citations],
  );
  const known = useMemo(() => {
    if (!sources && !citations) return undefined;
    return new Set([...(sources ?? []).map((s) => s.n), ...cited.map((c) => c.n)]);
  }, [sources, citations, cited]);

  const onCite = useCallback(
    (n: number) => {
      setActiveN(n);
      if (revealAndFlash(sourceAnchorId(message.id, n, "cited"))) return;
      setRetrievedOpen(true);
      // The retrieved list renders its items once opened.
      requestAnimationFrame(() => revealAndFlash(sourceAnchorId(message.id, n, "retrieved")));
    },
    [message.id],
  );

  const waitingForText = streaming && text.length === 0;
  const retrievedLabel =
    sources === null
      ? ""
      : citations === null
        ? `${sources.length} ${sources.length === 1 ? "passage" : "passages"} retrieved`
        : `All ${sources.length} retrieved ${sources.length === 1 ? "passage" : "passages"}`;

  return (
    <div className="msg msg-assistant" data-testid="assistant-message" data-state={streaming ? "streaming" : "done"}>
      <div className="avatar" aria-hidden="true">
        d
      </div>
      <div className="msg-body">
        {label && (
          <div className={`provider-label${label.startsWith("Extractive") ? " is-extractive" : ""}`}>{label}</div>
        )}
        {waitingForText ? (
          <Thinking>
            {sources === null ? "Searching your documents…" : `Reading ${sources.length} passages…`}
          </Thinking>
        ) : (
          <div className={`answer${streaming ? " is-streaming" : ""}`} data-testid="assistant-text">
            <AnswerMarkdown text={text} knownSources={known} onCite={onCite} />
          </div>
        )}
        {metadata.error && (
          <p className="msg-error" role="note">
            This answer ended with an error: {metadata.error}
          </p>
        )}
        <CitedSources messageId={message.id} items={cited} activeN={activeN} />
        {sources !== null && (
          <RetrievedSources
            messageId={message.id}
            sources={sources}
            open={retrievedOpen}
            onToggle={setRetrievedOpen}
            activeN={activeN}
            label={retrievedLabel}
          />
        )}
      </div>
    </div>
  );
}
