"use client";

import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport, generateId } from "ai";
import { useCallback, useMemo, useRef, useState } from "react";
import {
  buildChatRequestBody,
  conversationToMessages,
  findConversationId,
  type DocentUIMessage,
} from "@/lib/chat";
import type { ConversationDetail } from "@/lib/schemas";

interface Session {
  chatId: string;
  initialMessages: DocentUIMessage[];
  conversationId: string | undefined;
}

const freshSession = (): Session => ({
  chatId: generateId(),
  initialMessages: [],
  conversationId: undefined,
});

/**
 * `useChat` against `/api/chat`. The request carries only the new question and the
 * conversation id (taken from the `start` part's metadata), since the server keeps the
 * history. A new or loaded conversation gets a new chat id, which makes `useChat` start over.
 */
export function useDocentChat(options: { onTurnFinished?: () => void } = {}) {
  const [session, setSession] = useState<Session>(freshSession);
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const finishedRef = useRef(options.onTurnFinished);
  finishedRef.current = options.onTurnFinished;

  const transport = useMemo(
    () =>
      new DefaultChatTransport<DocentUIMessage>({
        api: "/api/chat",
        prepareSendMessagesRequest: ({ messages }) => ({
          body: buildChatRequestBody(messages, sessionRef.current.conversationId),
        }),
      }),
    [],
  );

  const chat = useChat<DocentUIMessage>({
    id: session.chatId,
    messages: session.initialMessages,
    transport,
    experimental_throttle: 40,
    onFinish: () => finishedRef.current?.(),
  });

  const conversationId = findConversationId(chat.messages) ?? session.conversationId;
  const busy = chat.status === "submitted" || chat.status === "streaming";

  const { stop } = chat;
  const newConversation = useCallback(() => {
    void stop();
    setSession(freshSession());
  }, [stop]);

  const openConversation = useCallback(
    (detail: ConversationDetail) => {
      void stop();
      setSession({
        chatId: generateId(),
        initialMessages: conversationToMessages(detail),
        conversationId: detail.id,
      });
    },
    [stop],
  );

  const { sendMessage } = chat;
  const ask = useCallback(
    async (text: string) => {
      const question = text.trim();
      if (!question) return;
      await sendMessage({ text: question });
    },
    [sendMessage],
  );

  return { ...chat, conversationId, busy, ask, newConversation, openConversation };
}

export type DocentChat = ReturnType<typeof useDocentChat>;
