import { describe, expect, it } from "vitest";
import {
  documentListSchema,
  isTerminalJobStatus,
  jobSchema,
  parseList,
  sourceSchema,
  uploadResponseSchema,
} from "@/lib/schemas";

const JOB = {
  id: "job-1",
  document_id: null,
  filename: "aurora.pdf",
  collection: "default",
  status: "embedding",
  error: null,
  pages_total: 3,
  pages_done: 2,
  chunks: 5,
  chunks_embedded: 2,
  eta_s: 12.5,
  created_at: "2024-01-01T00:00:00Z",
  updated_at: "2024-01-01T00:00:01Z",
};

describe("job payloads", () => {
  it("parses an upload response", () => {
    const parsed = uploadResponseSchema.parse({ jobs: [JOB] });
    expect(parsed.jobs[0]).toEqual(JOB);
  });

  it("rejects an unknown status", () => {
    expect(jobSchema.safeParse({ ...JOB, status: "exploded" }).success).toBe(false);
  });

  it("fills defaults for omitted optional fields", () => {
    const parsed = jobSchema.parse({ id: 7, filename: "a.txt", status: "queued" });
    expect(parsed).toMatchObject({
      id: "7",
      document_id: null,
      error: null,
      pages_total: null,
      pages_done: 0,
      chunks: 0,
      chunks_embedded: 0,
      eta_s: null,
      collection: "default",
    });
  });

  it("accepts a cancelled job and a null eta", () => {
    const parsed = jobSchema.parse({ ...JOB, status: "cancelled", error: "cancelled", eta_s: null });
    expect(parsed.status).toBe("cancelled");
    expect(parsed.eta_s).toBeNull();
    expect(isTerminalJobStatus(parsed.status)).toBe(true);
  });

  it("knows which statuses are terminal", () => {
    expect(["done", "failed", "cancelled", "duplicate"].every((s) => isTerminalJobStatus(s as never))).toBe(true);
    expect(["queued", "parsing", "chunking", "embedding", "indexing"].some((s) => isTerminalJobStatus(s as never))).toBe(
      false,
    );
  });
});

describe("document payloads", () => {
  it("parses a document list", () => {
    const doc = {
      id: "d1",
      filename: "aurora.pdf",
      collection: "default",
      sha256: "ab".repeat(32),
      content_type: "application/pdf",
      size_bytes: 2048,
      pages: 3,
      pages_without_text: 0,
      chunks: 6,
      status: "ready",
      error: null,
      created_at: "2024-01-01T00:00:00Z",
    };
    const parsed = documentListSchema.parse({ documents: [doc] });
    expect(parsed.documents).toEqual([doc]);
  });

  it("rejects a list without the documents key", () => {
    expect(documentListSchema.safeParse([]).success).toBe(false);
  });
});

describe("parseList", () => {
  it("keeps valid items and skips invalid ones or non-arrays", () => {
    const good = {
      n: 1,
      chunk_id: "c",
      document_id: "d",
      filename: "f.pdf",
      page_start: 1,
      page_end: 1,
      char_start: 0,
      char_end: 3,
      text: "abc",
      score: 0.1,
      section: "Report > Revenue",
    };
    expect(parseList(sourceSchema, [good, { ...good, page_start: "x" }, null])).toEqual([good]);
    expect(parseList(sourceSchema, { not: "a list" })).toEqual([]);
  });

  it("defaults a missing or null section to an empty string", () => {
    const { section: _section, ...legacy } = {
      n: 1,
      chunk_id: 3,
      document_id: "d",
      filename: "f.md",
      page_start: 1,
      page_end: 1,
      text: "abc",
      section: "x",
    };
    expect(sourceSchema.parse(legacy).section).toBe("");
    expect(sourceSchema.parse({ ...legacy, section: null }).section).toBe("");
  });
});
