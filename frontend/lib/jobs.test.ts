import { describe, expect, it } from "vitest";
import { applyJobUpdates } from "@/lib/jobs";
import { makeJob } from "@/lib/job-fixture";
import type { Job } from "@/lib/schemas";

const job = (id: string, patch: Partial<Job> = {}): Job =>
  makeJob({ id, filename: `${id}.pdf`, status: "embedding", ...patch });

describe("applyJobUpdates", () => {
  it("replaces updated jobs in place and keeps the others", () => {
    const current = [job("a"), job("b"), job("c")];
    const next = applyJobUpdates(current, new Map([["b", job("b", { status: "indexing" })]]));
    expect(next.map((j) => [j.id, j.status])).toEqual([
      ["a", "embedding"],
      ["b", "indexing"],
      ["c", "embedding"],
    ]);
    expect(next[0]).toBe(current[0]);
  });

  it("never moves a terminal job back to a running status", () => {
    const current = [job("a", { status: "cancelled" })];
    expect(applyJobUpdates(current, new Map([["a", job("a", { status: "embedding" })]]))[0]?.status).toBe("cancelled");
  });

  it("takes a cancel answer that ends the job", () => {
    const current = [job("a", { status: "queued" })];
    expect(applyJobUpdates(current, new Map([["a", job("a", { status: "cancelled" })]]))[0]?.status).toBe("cancelled");
  });
});
