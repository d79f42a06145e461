import { describe, expect, it } from "vitest";
import {
  EXTRACTIVE_LABEL,
  buildChatRequestBody,
  conversationToMessages,
  findConversationId,
  messageCitations,
  messageSources,
  messageText,
  providerLabel,
  type MessageLike,
} from "@/lib/chat";
import { conversationDetailSchema } from "@/lib/schemas";

const user = (text: string): MessageLike => ({ role: "user", parts: [{ type: "text", text }] });
const assistant = (conversationId?: string, extraParts: MessageLike["parts"] = []): MessageLike => ({
  role: "assistant",
  metadata: conversationId ? { conversationId, provider: "extractive", model: "m" } : undefined,
  parts: [{ type: "step-start" }, ...extraParts, { type: "text", text: "Answer [1]." }],
});

const SOURCE = {
  n: 1,
  chunk_id: "c1",
  document_id: "d1",
  filename: "aurora.pdf",
  page_start: 2,
  page_end: 2,
  char_start: 0,
  char_end: 20,
  text: "212 clear nights.",
  score: 0.9,
};

describe("chat request body", () => {
  it("sends only the last user message when there is no conversation yet", () => {
    expect(buildChatRequestBody([user("first question")])).toEqual({ message: "first question" });
  });

  it("includes the conversation id from the latest assistant metadata", () => {
    const messages = [user("q1"), assistant("conv-1"), user("q2"), assistant("conv-2"), user("follow-up")];
    expect(buildChatRequestBody(messages)).toEqual({ message: "follow-up", conversation_id: "conv-2" });
  });

  it("uses the fallback id for a loaded conversation without metadata", () => {
    expect(buildChatRequestBody([user("q")], "conv-9")).toEqual({ message: "q", conversation_id: "conv-9" });
  });

  it("joins multiple text parts of the user message", () => {
    const msg: MessageLike = {
      role: "user",
      parts: [
        { type: "text", text: "part one " },
        { type: "file", url: "x" },
        { type: "text", text: "part two" },
      ],
    };
    expect(messageText(msg)).toBe("part one part two");
  });

  it("finds no conversation id in a fresh chat", () => {
    expect(findConversationId([user("q"), assistant()])).toBeUndefined();
  });
});

describe("stream data parts", () => {
  it("returns null before sources/citations arrive", () => {
    const msg = assistant("c");
    expect(messageSources(msg)).toBeNull();
    expect(messageCitations(msg)).toBeNull();
  });

  it("parses sources and drops malformed items", () => {
    const msg = assistant("c", [{ type: "data-sources", data: [SOURCE, { n: "bad" }] }]);
    const sources = messageSources(msg);
    expect(sources).toHaveLength(1);
    expect(sources?.[0]).toMatchObject({ n: 1, filename: "aurora.pdf", page_start: 2 });
  });

  it("parses citations and normalises numeric ids to strings", () => {
    const msg = assistant("c", [
      {
        type: "data-citations",
        data: [
          {
            n: 1,
            chunk_id: 17,
            document_id: 3,
            filename: "aurora.pdf",
            page: 2,
            span_start: 0,
            span_end: 3,
            quote: "212",
            verdict: "supported",
          },
        ],
      },
    ]);
    expect(messageCitations(msg)).toEqual([
      {
        n: 1,
        chunk_id: "17",
        document_id: "3",
        filename: "aurora.pdf",
        page: 2,
        span_start: 0,
        span_end: 3,
        quote: "212",
        verdict: "supported",
      },
    ]);
  });
});

describe("provider label", () => {
  it("labels extractive answers explicitly", () => {
    expect(providerLabel({ provider: "extractive", model: "x" })).toBe(EXTRACTIVE_LABEL);
    expect(EXTRACTIVE_LABEL).toContain("no LLM configured");
  });

  it("names other providers and their model", () => {
    expect(providerLabel({ provider: "openai", model: "gpt-4o-mini" })).toBe("Answered by openai · gpt-4o-mini");
    expect(providerLabel({ provider: "anthropic" })).toBe("Answered by anthropic");
    expect(providerLabel({})).toBeNull();
  });
});

describe("conversationToMessages", () => {
  it("rebuilds user and assistant messages with sources, citations and metadata", () => {
    const detail = conversationDetailSchema.parse({
      id: "conv-1",
      title: "Aurora",
      created_at: "2024-01-01T00:00:00Z",
      updated_at: "2024-01-01T00:00:00Z",
      messages: [
        { id: "m1", role: "user", content: "How many clear nights?", sources: [], citations: [], status: "done", provider: null, model: null, created_at: "" },
        {
          id: "m2",
          role: "assistant",
          content: "212 [1].",
          sources: [SOURCE],
          citations: [],
          status: "done",
          provider: "extractive",
          model: "extractive-v1",
          created_at: "",
        },
        { id: "m3", role: "user", content: "And then?", sources: [], citations: [], status: "done", provider: null, model: null, created_at: "" },
        { id: "m4", role: "assistant", content: "", sources: [], citations: [], status: "error", provider: "openai", model: "gpt", error: "upstream timed out", created_at: "" },
      ],
    });
    const messages = conversationToMessages(detail);
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(messages[3]?.metadata).toEqual({ conversationId: "conv-1", provider: "openai", model: "gpt", error: "upstream timed out" });
    expect(messageText(messages[0] as MessageLike)).toBe("How many clear nights?");
    const answer = messages[1] as MessageLike;
    expect(messageText(answer)).toBe("212 [1].");
    expect(messageSources(answer)?.[0]?.filename).toBe("aurora.pdf");
    expect(messageCitations(answer)).toEqual([]);
    expect(findConversationId(messages)).toBe("conv-1");
    expect(buildChatRequestBody([...messages, { role: "user", parts: [{ type: "text", text: "more?" }] }])).toEqual({
      message: "more?",
      conversation_id: "conv-1",
    });
  });
});
