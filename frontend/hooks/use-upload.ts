"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, cancelJob, describeError, getJob, uploadDocuments } from "@/lib/api";
import { applyJobUpdates } from "@/lib/jobs";
import { isTerminalJobStatus, type Job } from "@/lib/schemas";

export const JOB_POLL_INTERVAL_MS = 700;

export interface UploadError {
  id: string;
  filenames: string[];
  message: string;
}

export interface UploadState {
  jobs: Job[];
  errors: UploadError[];
  uploading: boolean;
  /** Ids of jobs whose cancel request was accepted (or is in flight) but that still run. */
  cancelling: readonly string[];
  upload: (files: readonly File[]) => Promise<void>;
  /** Cancel a running job; the job then settles as `cancelled` through polling. */
  cancel: (jobId: string) => Promise<void>;
  clearFinished: () => void;
  dismissError: (id: string) => void;
}

/**
 * Uploads files and follows their ingestion jobs: every job that is not terminal is
 * polled every ~700 ms; `onJobSettled` runs whenever a job reaches a terminal status.
 */
export function useUpload(onJobSettled?: (job: Job) => void): UploadState {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [errors, setErrors] = useState<UploadError[]>([]);
  const [uploading, setUploading] = useState(false);
  const [cancelling, setCancelling] = useState<string[]>([]);
  const settledRef = useRef(onJobSettled);
  settledRef.current = onJobSettled;
  const errorSeq = useRef(0);
  const jobsRef = useRef<Job[]>(jobs);
  jobsRef.current = jobs;

  const upload = useCallback(async (files: readonly File[]) => {
    if (files.length === 0) return;
    setUploading(true);
    try {
      const created = await uploadDocuments(files);
      setJobs((current) => [...created, ...current.filter((j) => !created.some((c) => c.id === j.id))]);
      for (const job of created) if (isTerminalJobStatus(job.status)) settledRef.current?.(job);
    } catch (err) {
      errorSeq.current += 1;
      const entry: UploadError = {
        id: `upload-error-${errorSeq.current}`,
        filenames: files.map((f) => f.name),
        message: describeError(err),
      };
      setErrors((current) => [entry, ...current]);
    } finally {
      setUploading(false);
    }
  }, []);

  const activeIds = jobs
    .filter((j) => !isTerminalJobStatus(j.status))
    .map((j) => j.id)
    .join(",");

  useEffect(() => {
    if (!activeIds) return;
    const ids = activeIds.split(",");
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;

    const poll = async () => {
      const results = await Promise.allSettled(ids.map((id) => getJob(id, controller.signal)));
      if (controller.signal.aborted) return;
      const updates = new Map<string, Job>();
      results.forEach((result, i) => {
        const id = ids[i] as string;
        if (result.status === "fulfilled") {
          updates.set(id, result.value);
          return;
        }
        // A job the server no longer knows will never finish: show it as failed.
        // Other errors (a restart, a blip) are retried on the next tick.
        const known = jobsRef.current.find((j) => j.id === id);
        if (known && result.reason instanceof ApiError && result.reason.status === 404) {
          updates.set(id, { ...known, status: "failed", error: describeError(result.reason) });
        }
      });
      const settled = jobsRef.current.filter((job) => {
        const updated = updates.get(job.id);
        return updated !== undefined && !isTerminalJobStatus(job.status) && isTerminalJobStatus(updated.status);
      });
      setJobs((current) => applyJobUpdates(current, updates));
      for (const job of settled) settledRef.current?.(updates.get(job.id) ?? job);
      timer = setTimeout(() => void poll(), JOB_POLL_INTERVAL_MS);
    };

    timer = setTimeout(() => void poll(), JOB_POLL_INTERVAL_MS);
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [activeIds]);

  const cancel = useCallback(async (jobId: string) => {
    const known = jobsRef.current.find((j) => j.id === jobId);
    if (!known || isTerminalJobStatus(known.status)) return;
    setCancelling((current) => (current.includes(jobId) ? current : [...current, jobId]));
    try {
      const updated = await cancelJob(jobId);
      // Use the answer at once: a queued job comes back `cancelled`; a running one may
      // still report its stage and is then followed by the polling until it settles.
      const before = jobsRef.current.find((j) => j.id === jobId);
      setJobs((current) => applyJobUpdates(current, new Map([[jobId, updated]])));
      if (before && !isTerminalJobStatus(before.status) && isTerminalJobStatus(updated.status)) {
        settledRef.current?.(updated);
      }
    } catch (err) {
      setCancelling((current) => current.filter((id) => id !== jobId));
      errorSeq.current += 1;
      const entry: UploadError = {
        id: `upload-error-${errorSeq.current}`,
        filenames: [known.filename],
        message: `Could not cancel: ${describeError(err)}`,
      };
      setErrors((current) => [entry, ...current]);
    }
  }, []);

  const clearFinished = useCallback(() => {
    setJobs((current) => current.filter((j) => !isTerminalJobStatus(j.status)));
    setErrors([]);
    setCancelling((current) =>
      current.filter((id) => jobsRef.current.some((j) => j.id === id && !isTerminalJobStatus(j.status))),
    );
  }, []);

  const dismissError = useCallback((id: string) => {
    setErrors((current) => current.filter((e) => e.id !== id));
  }, []);

  return { jobs, errors, uploading, cancelling, upload, cancel, clearFinished, dismissError };
}
