"use client";

import { useRef, useState, type DragEvent } from "react";
import type { UploadState } from "@/hooks/use-upload";
import { describeJob, jobProgress } from "@/lib/format";
import { isTerminalJobStatus } from "@/lib/schemas";

const ACCEPT = ".pdf,.txt,.md,.markdown,.html,.htm,.docx";

export function UploadPanel({ upload }: { upload: UploadState }) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const { jobs, errors, uploading, cancelling } = upload;

  const send = (list: FileList | null) => {
    const files = list ? Array.from(list) : [];
    if (files.length > 0) void upload.upload(files);
  };

  const onDrop = (event: DragEvent<HTMLLabelElement>) => {
    event.preventDefault();
    setDragging(false);
    send(event.dataTransfer.files);
  };

  const hasFinished = jobs.some((j) => isTerminalJobStatus(j.status)) || errors.length > 0;

  return (
    <section className="panel" aria-labelledby="upload-heading">
      <div className="panel-head">
        <h2 id="upload-heading" className="panel-title">
          Add documents
        </h2>
        {hasFinished && (
          <button type="button" className="link-button" onClick={upload.clearFinished}>
            Clear
          </button>
        )}
      </div>
      <label
        className={`dropzone${dragging ? " is-dragging" : ""}${uploading ? " is-busy" : ""}`}
        onDragEnter={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = "copy";
        }}
        onDragLeave={(e) => {
          if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={onDrop}
      >
        <input
          ref={inputRef}
          type="file"
          multiple
          accept={ACCEPT}
          className="visually-hidden"
          data-testid="file-input"
          onChange={(e) => {
            send(e.currentTarget.files);
            e.currentTarget.value = "";
          }}
        />
        <svg className="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true">
          <path d="M12 16V4m0 0-4 4m4-4 4 4M4 16v2a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-2" />
        </svg>
        <span className="dropzone-text">
          {uploading ? "Uploading…" : (
            <>
              <strong>Choose files</strong> or drop them here
            </>
          )}
        </span>
        <span className="dropzone-hint">PDF, Word, HTML, Markdown or plain text</span>
      </label>

      {errors.length > 0 && (
        <ul className="job-list">
          {errors.map((err) => (
            <li key={err.id} className="job job-failed" role="alert">
              <div className="job-line">
                <span className="job-name" title={err.filenames.join(", ")}>
                  {err.filenames.join(", ")}
                </span>
                <button
                  type="button"
                  className="icon-button"
                  aria-label="Dismiss"
                  onClick={() => upload.dismissError(err.id)}
                >
                  ×
                </button>
              </div>
              <div className="job-status">{err.message}</div>
            </li>
          ))}
        </ul>
      )}

      {jobs.length > 0 && (
        <ul className="job-list" aria-live="polite">
          {jobs.map((job) => {
            const progress = jobProgress(job);
            const running = !isTerminalJobStatus(job.status);
            const isCancelling = cancelling.includes(job.id);
            return (
              <li key={job.id} className={`job job-${job.status}`} data-job-id={job.id}>
                <div className="job-line">
                  <span className="job-name" title={job.filename}>
                    {job.filename}
                  </span>
                  {running && (
                    <span className="job-actions">
                      <button
                        type="button"
                        className="link-button"
                        aria-label={`Cancel ingesting ${job.filename}`}
                        disabled={isCancelling}
                        onClick={() => void upload.cancel(job.id)}
                      >
                        {isCancelling ? "Cancelling…" : "Cancel"}
                      </button>
                      <span className="spinner" aria-hidden="true" />
                    </span>
                  )}
                </div>
                <div className="job-status" data-testid="job-status" data-status={job.status}>
                  {describeJob(job)}
                </div>
                {running && (
                  <div className="progress" aria-hidden="true">
                    <div
                      className={`progress-bar${progress === null ? " is-indeterminate" : ""}`}
                      style={progress === null ? undefined : { width: `${Math.round(progress * 100)}%` }}
                    />
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
