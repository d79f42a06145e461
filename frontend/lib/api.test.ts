import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ApiError,
  cancelJob,
  describeError,
  documentFileUrl,
  getJob,
  parseErrorBody,
  uploadDocuments,
} from "@/lib/api";

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("error bodies", () => {
  it("reads detail and code", () => {
    expect(parseErrorBody('{"detail":"Unsupported file type .exe","code":"unsupported_document"}')).toEqual({
      detail: "Unsupported file type .exe",
      code: "unsupported_document",
    });
  });

  it("flattens FastAPI validation errors", () => {
    const body = JSON.stringify({ detail: [{ loc: ["body", "message"], msg: "Field required", type: "missing" }] });
    expect(parseErrorBody(body)).toEqual({ detail: "message: Field required" });
  });

  it("returns null for non-error bodies", () => {
    expect(parseErrorBody("<html>Bad gateway</html>")).toBeNull();
    expect(parseErrorBody('{"message":"x"}')).toBeNull();
  });

  it("describes transport errors whose message is a JSON error body", () => {
    expect(describeError(new Error('{"detail":"conversation not found","code":"not_found"}'))).toBe(
      "conversation not found",
    );
    expect(describeError(new ApiError("File too large", 413))).toBe("File too large");
    expect(describeError(new Error("stream broke"))).toBe("stream broke");
  });
});

describe("fetch helpers", () => {
  it("uploads every file under the `files` field and parses the jobs", async () => {
    const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) =>
      Response.json(
        {
          jobs: [
            { id: "j1", document_id: null, filename: "a.pdf", collection: "default", status: "queued", error: null, pages_total: null, pages_done: 0, chunks: 0, created_at: "", updated_at: "" },
            { id: "j2", document_id: "d9", filename: "b.txt", collection: "default", status: "duplicate", error: null, pages_total: null, pages_done: 0, chunks: 0, created_at: "", updated_at: "" },
          ],
        },
        { status: 202 },
      ),
    );
    vi.stubGlobal("fetch", fetchMock);
    const jobs = await uploadDocuments([new File(["%PDF"], "a.pdf"), new File(["hello"], "b.txt")]);
    expect(jobs.map((j) => j.status)).toEqual(["queued", "duplicate"]);
    const [url, init] = fetchMock.mock.calls[0] ?? [];
    expect(url).toBe("/api/documents");
    expect(init?.method).toBe("POST");
    const form = init?.body as FormData;
    expect(form.getAll("files").map((f) => (f as File).name)).toEqual(["a.pdf", "b.txt"]);
  });

  it("turns an error status into an ApiError with the server's detail", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => Response.json({ detail: "File is larger than 50 MB", code: "too_large" }, { status: 413 })),
    );
    const error = await uploadDocuments([new File(["x"], "big.pdf")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 413, code: "too_large", message: "File is larger than 50 MB" });
  });

  it("reports a malformed success body instead of returning it", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Response.json({ id: "j1" })));
    await expect(getJob("j1")).rejects.toThrow(/Unexpected response from \/api\/jobs\/j1/);
  });

  it("falls back to the status line for non-JSON errors", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("<html>oops</html>", { status: 502, statusText: "Bad Gateway" })));
    await expect(getJob("j1")).rejects.toThrow("Request failed (502 Bad Gateway)");
  });

  it("cancels a job with a POST and parses the returned job", async () => {
    const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) =>
      Response.json(
        { id: "j 1", document_id: "d1", filename: "a.pdf", collection: "default", status: "cancelled", error: "cancelled", pages_total: 3, pages_done: 1, chunks: 0, chunks_embedded: 0, eta_s: null, created_at: "", updated_at: "" },
        { status: 202 },
      ),
    );
    vi.stubGlobal("fetch", fetchMock);
    const job = await cancelJob("j 1");
    expect(job).toMatchObject({ id: "j 1", status: "cancelled", chunks_embedded: 0, eta_s: null });
    const [url, init] = fetchMock.mock.calls[0] ?? [];
    expect(url).toBe("/api/jobs/j%201/cancel");
    expect(init?.method).toBe("POST");
  });

  it("rejects cancelling an unknown job with the server's detail", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Response.json({ detail: "job not found", code: "not_found" }, { status: 404 })));
    const error = await cancelJob("nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: "not_found", message: "job not found" });
  });

  it("builds file URLs with an optional page fragment", () => {
    expect(documentFileUrl("d 1")).toBe("/api/documents/d%201/file");
    expect(documentFileUrl("d1", 2)).toBe("/api/documents/d1/file#page=2");
  });
});
