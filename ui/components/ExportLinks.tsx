/** Download links for a run's model as `storyteller export` writes it (GET /api/storyteller/export). */
/** The run's model converted for llama.cpp (GGUF) or transformers (a tar of the HF directory): `storyteller export`. */
export function ExportLinks({ runId, compact = false }: { runId: string; compact?: boolean }) {
  const href = (format: string, dtype = "f32") =>
    `/api/storyteller/export?run_id=${encodeURIComponent(runId)}&format=${format}&dtype=${dtype}`;
  const links = (
    <span class="export-links" data-export={runId}>
      <a href={href("gguf")} download>GGUF f32</a> · <a href={href("gguf", "f16")} download>GGUF f16</a> ·
      {" "}
      <a href={href("hf")} download>Hugging Face (.tar)</a>
    </span>
  );
  if (compact) return links;
  return (
    <section>
      <h3>Export</h3>
      <p class="muted">
        For llama.cpp, Ollama or LM Studio (GGUF) and transformers (a Hugging Face directory): {links}
      </p>
    </section>
  );
}
