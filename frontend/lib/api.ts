/**
 * Fetch helpers for the docent API. Every URL is same-origin and relative (the API serves
 * this static UI), every response body is validated with the schemas in `schemas.ts`, and
 * every non-2xx answer becomes an `ApiError` carrying the server's `detail`.
 */
import type { z } from "zod";
import {
  apiErrorSchema,
  conversationDetailSchema,
  conversationListSchema,
  documentListSchema,
  jobSchema,
  uploadResponseSchema,
  type ConversationDetail,
  type ConversationSummary,
  type DocumentInfo,
  type Job,
} from "@/lib/schemas";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(message: string, status: number, code?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * Turn an error body (usually `{"detail": "...", "code": "..."}`) into a readable message.
 * Returns `null` when the body is not a recognisable error payload.
 */
export function parseErrorBody(body: string): { detail: string; code?: string } | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const parsed = apiErrorSchema.safeParse(json);
  if (!parsed.success) return null;
  const { detail, code } = parsed.data;
  const text =
    typeof detail === "string"
      ? detail
      : detail
          .map((issue) => {
            const where = (issue.loc ?? []).filter((p) => p !== "body").join(".");
            return where ? `${where}: ${issue.msg}` : issue.msg;
          })
          .join("; ");
  return code === undefined ? { detail: text } : { detail: text, code };
}

export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body = "";
  try {
    body = await response.text();
  } catch {
    // The body could not be read; fall through to the status line.
  }
  const parsed = parseErrorBody(body);
  if (parsed) return new ApiError(parsed.detail, response.status, parsed.code);
  const statusLine = `${response.status} ${response.statusText}`.trim();
  const snippet = body.trim().slice(0, 200);
  return new ApiError(
    snippet && !snippet.startsWith("<") ? `${statusLine}: ${snippet}` : `Request failed (${statusLine})`,
    response.status,
  );
}

/** Human-readable text for an error thrown by the chat transport or a fetch helper. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) {
    const parsed = parseErrorBody(error.message);
    if (parsed) return parsed.detail;
    if (error.message === "Failed to fetch" || error.name === "TypeError") {
      return "Could not reach the docent server.";
    }
    return error.message || "Something went wrong.";
  }
  return String(error);
}

async function requestJson<S extends z.ZodType>(
  url: string,
  schema: S,
  init?: RequestInit,
): Promise<z.output<S>> {
  const response = await fetch(url, {
    ...init,
    headers: { Accept: "application/json", ...init?.headers },
  });
  if (!response.ok) throw await errorFromResponse(response);
  const json: unknown = await response.json();
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(`Unexpected response from ${url}: ${parsed.error.message}`, response.status);
  }
  return parsed.data;
}

async function requestNoContent(url: string, init?: RequestInit): Promise<void> {
  const response = await fetch(url, init);
  if (!response.ok) throw await errorFromResponse(response);
}

export const documentFileUrl = (documentId: string, page?: number): string =>
  `/api/documents/${encodeURIComponent(documentId)}/file${page ? `#page=${page}` : ""}`;

export async function listDocuments(signal?: AbortSignal): Promise<DocumentInfo[]> {
  const data = await requestJson("/api/documents", documentListSchema, { signal });
  return data.documents;
}

export async function deleteDocument(documentId: string): Promise<void> {
  await requestNoContent(`/api/documents/${encodeURIComponent(documentId)}`, { method: "DELETE" });
}

/** POST the files as multipart `files` fields (one request); answers one job per file. */
export async function uploadDocuments(files: readonly File[], collection?: string): Promise<Job[]> {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  if (collection) form.append("collection", collection);
  const data = await requestJson("/api/documents", uploadResponseSchema, { method: "POST", body: form });
  return data.jobs;
}

export async function getJob(jobId: string, signal?: AbortSignal): Promise<Job> {
  return requestJson(`/api/jobs/${encodeURIComponent(jobId)}`, jobSchema, { signal });
}

/**
 * Ask the server to cancel an ingest job (202 with the job). A queued job comes back
 * `cancelled`; a running one may still show its current stage and ends `cancelled` shortly.
 */
export async function cancelJob(jobId: string): Promise<Job> {
  return requestJson(`/api/jobs/${encodeURIComponent(jobId)}/cancel`, jobSchema, { method: "POST" });
}

export async function listConversations(signal?: AbortSignal): Promise<ConversationSummary[]> {
  const data = await requestJson("/api/conversations", conversationListSchema, { signal });
  return data.conversations;
}

export async function getConversation(conversationId: string): Promise<ConversationDetail> {
  return requestJson(`/api/conversations/${encodeURIComponent(conversationId)}`, conversationDetailSchema);
}

export async function deleteConversation(conversationId: string): Promise<void> {
  await requestNoContent(`/api/conversations/${encodeURIComponent(conversationId)}`, {
    method: "DELETE",
  });
}
