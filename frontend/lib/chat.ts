/**
 * The chat's message model on top of the AI SDK `UIMessage`, and pure helpers to read it:
 * text, streamed sources/citations, the conversation id, the request body for `/api/chat`,
 * and the conversion of a stored conversation back into UI messages.
 */
import type { UIMessage } from "ai";
import {
  citationSchema,
  messageMetadataSchema,
  parseList,
  sourceSchema,
  type Citation,
  type ConversationDetail,
  type MessageMetadata,
  type Source,
} from "@/lib/schemas";

export type DocentDataParts = {
  sources: Source[];
  citations: Citation[];
};

export type DocentUIMessage = UIMessage<MessageMetadata, DocentDataParts>;

/** Only the parts of a message these helpers read, so plain objects work in tests. */
export interface MessageLike {
  role: string;
  parts: ReadonlyArray<{ type: string; [key: string]: unknown }>;
  metadata?: unknown;
}

export function messageText(message: MessageLike): string {
  return message.parts
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text as string)
    .join("");
}

function lastData(message: MessageLike, type: string): unknown {
  for (let i = message.parts.length - 1; i >= 0; i -= 1) {
    const part = message.parts[i];
    if (part?.type === type) return part.data;
  }
  return undefined;
}

/** The passages streamed in `data-sources`, or `null` when none have arrived yet. */
export function messageSources(message: MessageLike): Source[] | null {
  const data = lastData(message, "data-sources");
  return data === undefined ? null : parseList(sourceSchema, data);
}

/** The resolved citations streamed in `data-citations`, or `null` before they arrive. */
export function messageCitations(message: MessageLike): Citation[] | null {
  const data = lastData(message, "data-citations");
  return data === undefined ? null : parseList(citationSchema, data);
}

export function messageMetadata(message: MessageLike): MessageMetadata {
  const parsed = messageMetadataSchema.safeParse(message.metadata ?? {});
  return parsed.success ? parsed.data : {};
}

/** The conversation the chat belongs to: the newest one announced in a message's metadata. */
export function findConversationId(messages: readonly MessageLike[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    const id = message ? messageMetadata(message).conversationId : undefined;
    if (id) return id;
  }
  return undefined;
}

export interface ChatRequestBody {
  message: string;
  conversation_id?: string;
}

/** `/api/chat` takes only the new question and the conversation id, not the history. */
export function buildChatRequestBody(
  messages: readonly MessageLike[],
  fallbackConversationId?: string,
): ChatRequestBody {
  let text = "";
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    if (message?.role === "user") {
      text = messageText(message);
      break;
    }
  }
  const conversationId = findConversationId(messages) ?? fallbackConversationId;
  return conversationId ? { message: text, conversation_id: conversationId } : { message: text };
}

export const EXTRACTIVE_LABEL =
  "Extractive answer (no LLM configured): sentences quoted from your documents";

export function providerLabel(metadata: MessageMetadata): string | null {
  if (!metadata.provider) return null;
  if (metadata.provider === "extractive") return EXTRACTIVE_LABEL;
  return metadata.model ? `Answered by ${metadata.provider} · ${metadata.model}` : `Answered by ${metadata.provider}`;
}

/** Rebuild UI messages from `GET /api/conversations/{id}`. */
export function conversationToMessages(detail: ConversationDetail): DocentUIMessage[] {
  return detail.messages.map((m): DocentUIMessage => {
    if (m.role === "user") {
      return { id: m.id, role: "user", parts: [{ type: "text", text: m.content }] };
    }
    const metadata: MessageMetadata = { conversationId: detail.id };
    if (m.provider) metadata.provider = m.provider;
    if (m.model) metadata.model = m.model;
    if (m.error) metadata.error = m.error;
    return {
      id: m.id,
      role: "assistant",
      metadata,
      parts: [
        { type: "data-sources", data: m.sources },
        { type: "text", text: m.content, state: "done" },
        { type: "data-citations", data: m.citations },
      ],
    };
  });
}
