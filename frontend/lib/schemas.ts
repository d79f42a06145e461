/**
 * Zod schemas for every payload the UI reads from the docent API (DESIGN.md §3).
 *
 * Identifiers are accepted as strings or numbers and normalised to strings; optional
 * numeric counters default to 0 and nullable fields accept `undefined`, so a backend
 * that omits a field degrades gracefully instead of breaking the page.
 */
import { z } from "zod";

const id = z.union([z.string(), z.number()]).transform(String);
const nullableString = z
  .string()
  .nullish()
  .transform((v) => v ?? null);
const nullableInt = z
  .number()
  .nullish()
  .transform((v) => v ?? null);
const count = z
  .number()
  .nullish()
  .transform((v) => v ?? 0);
const nullableNumber = z
  .number()
  .nullish()
  .transform((v) => v ?? null);

export const JOB_STATUSES = [
  "queued",
  "parsing",
  "chunking",
  "embedding",
  "indexing",
  "done",
  "failed",
  "cancelled",
  "duplicate",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ["done", "failed", "cancelled", "duplicate"];

export function isTerminalJobStatus(status: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.includes(status);
}

export const jobSchema = z.object({
  id,
  document_id: id.nullish().transform((v) => v ?? null),
  filename: z.string(),
  collection: z.string().default("default"),
  status: z.enum(JOB_STATUSES),
  error: nullableString,
  pages_total: nullableInt,
  pages_done: count,
  chunks: count,
  chunks_embedded: count,
  /** Estimated seconds left while the job runs; `null` when unknown. */
  eta_s: nullableNumber,
  created_at: z.string().default(""),
  updated_at: z.string().default(""),
});
export type Job = z.infer<typeof jobSchema>;

export const uploadResponseSchema = z.object({ jobs: z.array(jobSchema) });

export const DOCUMENT_STATUSES = ["pending", "ready", "failed"] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

export const documentSchema = z.object({
  id,
  filename: z.string(),
  collection: z.string().default("default"),
  sha256: z.string().default(""),
  content_type: z.string().default(""),
  size_bytes: count,
  pages: nullableInt,
  pages_without_text: count,
  chunks: count,
  status: z.enum(DOCUMENT_STATUSES),
  error: nullableString,
  created_at: z.string().default(""),
});
export type DocumentInfo = z.infer<typeof documentSchema>;

export const documentListSchema = z.object({ documents: z.array(documentSchema) });

export const sourceSchema = z.object({
  n: z.number().int(),
  chunk_id: id,
  document_id: id,
  filename: z.string(),
  page_start: z.number().int(),
  page_end: z.number().int(),
  char_start: count,
  char_end: count,
  text: z.string(),
  score: z.number().default(0),
  /** Heading path of the passage, e.g. "Report > Revenue"; "" when unknown. */
  section: z
    .string()
    .nullish()
    .transform((v) => v ?? ""),
});
export type Source = z.infer<typeof sourceSchema>;

export const citationSchema = z.object({
  n: z.number().int(),
  chunk_id: id,
  document_id: id,
  filename: z.string(),
  page: z.number().int(),
  // Where the span lies in that page's extracted text (null when the page layout is unknown).
  page_char_start: z.number().int().nullable().optional(),
  page_char_end: z.number().int().nullable().optional(),
  span_start: z.number().int(),
  span_end: z.number().int(),
  quote: z.string().default(""),
  // The contract says "supported" | "weak"; unknown verdicts are kept, not rejected.
  verdict: z.string().default("supported"),
});
export type Citation = z.infer<typeof citationSchema>;

export const messageMetadataSchema = z
  .object({
    conversationId: z.string().optional(),
    provider: z.string().optional(),
    model: z.string().optional(),
    /** Set on stored answers that ended in an error (conversation history). */
    error: z.string().optional(),
  })
  .passthrough();
export type MessageMetadata = z.infer<typeof messageMetadataSchema>;

export const conversationSummarySchema = z.object({
  id,
  title: z
    .string()
    .nullish()
    .transform((v) => v ?? ""),
  created_at: z.string().default(""),
  updated_at: z.string().default(""),
});
export type ConversationSummary = z.infer<typeof conversationSummarySchema>;

export const conversationListSchema = z.object({
  conversations: z.array(conversationSummarySchema),
});

export const storedMessageSchema = z.object({
  id,
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  sources: z
    .array(sourceSchema)
    .nullish()
    .transform((v) => v ?? []),
  citations: z
    .array(citationSchema)
    .nullish()
    .transform((v) => v ?? []),
  status: nullableString,
  provider: nullableString,
  model: nullableString,
  error: nullableString,
  created_at: z.string().default(""),
});
export type StoredMessage = z.infer<typeof storedMessageSchema>;

export const conversationDetailSchema = conversationSummarySchema.extend({
  messages: z.array(storedMessageSchema),
});
export type ConversationDetail = z.infer<typeof conversationDetailSchema>;

/** FastAPI-style error body: `detail` is a string, or a list of validation issues. */
export const apiErrorSchema = z.object({
  detail: z.union([
    z.string(),
    z.array(z.object({ msg: z.string(), loc: z.array(z.union([z.string(), z.number()])).optional() }).passthrough()),
  ]),
  code: z.string().optional(),
});

/** Parse each element on its own, keeping the valid ones (stream data is best-effort). */
export function parseList<T>(schema: z.ZodType<T>, data: unknown): T[] {
  if (!Array.isArray(data)) return [];
  const out: T[] = [];
  for (const item of data) {
    const parsed = schema.safeParse(item);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}
