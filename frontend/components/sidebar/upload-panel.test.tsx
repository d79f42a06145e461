import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { UploadPanel } from "@/components/sidebar/upload-panel";
import type { UploadState } from "@/hooks/use-upload";
import { makeJob } from "@/lib/job-fixture";
import type { Job } from "@/lib/schemas";

const job = (id: string, filename: string, status: Job["status"]): Job => makeJob({ id, filename, status });

const state = (jobs: Job[], cancelling: string[] = []): UploadState => ({
  jobs,
  errors: [],
  uploading: false,
  cancelling,
  upload: async () => {},
  cancel: async () => {},
  clearFinished: () => {},
  dismissError: () => {},
});

describe("UploadPanel", () => {
  it("names every accepted format in the dropzone hint", () => {
    expect(renderToStaticMarkup(<UploadPanel upload={state([])} />)).toContain("PDF, Word, HTML, Markdown or plain text");
  });

  it("offers Cancel on running jobs only", () => {
    const html = renderToStaticMarkup(
      <UploadPanel
        upload={state([job("1", "a.pdf", "embedding"), job("2", "b.docx", "queued"), job("3", "c.md", "cancelled"), job("4", "d.txt", "done")])}
      />,
    );
    expect(html.match(/aria-label="Cancel ingesting [^"]*"/g)).toEqual([
      'aria-label="Cancel ingesting a.pdf"',
      'aria-label="Cancel ingesting b.docx"',
    ]);
    expect(html).toMatch(/<button type="button" class="link-button" aria-label="Cancel ingesting a\.pdf">Cancel<\/button>/);
    expect(html).toContain('data-status="cancelled">cancelled</div>');
  });

  it("disables the button while the cancel is pending", () => {
    const html = renderToStaticMarkup(<UploadPanel upload={state([job("1", "a.pdf", "embedding")], ["1"])} />);
    expect(html).toMatch(/aria-label="Cancel ingesting a\.pdf" disabled="">Cancelling…<\/button>/);
  });
});
