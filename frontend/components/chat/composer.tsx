"use client";

import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";

interface Props {
  busy: boolean;
  onSend: (text: string) => void | Promise<void>;
  onStop: () => void;
  placeholder: string;
}

export function Composer({ busy, onSend, onStop, placeholder }: Props) {
  const [text, setText] = useState("");
  const ref = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }, [text]);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const question = text.trim();
    if (!question || busy) return;
    setText("");
    void onSend(question);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) submit(event);
  };

  return (
    <form className="composer" onSubmit={submit}>
      <textarea
        ref={ref}
        className="composer-input"
        data-testid="chat-input"
        aria-label="Ask a question about your documents"
        placeholder={placeholder}
        rows={1}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      {busy ? (
        <button type="button" className="button secondary" onClick={onStop} data-testid="stop-button">
          Stop
        </button>
      ) : (
        <button type="submit" className="button primary" data-testid="send-button" disabled={!text.trim()}>
          Send
        </button>
      )}
    </form>
  );
}
