// Think vs No think, side by side (stacked when the chat is narrow). Props come from
// backend/chat/compare.py; the answers are Markdown with LaTeX, rendered like a message.
import { Badge } from "@/components/ui/badge"
import { Button } from "@/components/ui/button"
import { Markdown } from "@/components/markdown"
import { Brain, Check, Zap } from "lucide-react"
import { useMemo } from "react"

const STATUS = {
  waiting: "waiting…",
  thinking: "thinking…",
  answering: "answering…",
  done: "done",
  stopped: "stopped",
  error: "error",
}

function Stats({ stats }) {
  if (!stats) return null
  const parts = []
  if (stats.ttft_ms != null) parts.push(["first token", `${stats.ttft_ms} ms`])
  parts.push(["total", `${stats.total_s.toFixed(1)} s`])
  if (stats.reasoning_tokens != null) parts.push(["reasoning", `${stats.reasoning_tokens} tok`])
  if (stats.answer_tokens != null) parts.push(["answer", `${stats.answer_tokens} tok`])
  return (
    <dl className="cmp-stats">
      {parts.map(([name, value]) => (
        <div key={name} data-stat={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  )
}

function Reasoning({ side }) {
  if (!side.thinking) return null
  const live = side.status === "thinking"
  let title = live ? "Thinking…" : "No reasoning"
  if (side.reasoning.trim() && !live) {
    title = side.thought_s != null ? `Thought for ${side.thought_s.toFixed(1)} s` : "Reasoning"
  }
  if (side.budget_cut) title += " · thinking budget reached"
  return (
    <details className="cmp-reasoning" open={live}>
      <summary>{title}</summary>
      <div className="cmp-reasoning-text">{side.reasoning.trim()}</div>
    </details>
  )
}

function Side({ side, kept, final, onKeep }) {
  const isKept = final && kept === side.key
  const streaming = !["done", "stopped", "error"].includes(side.status)
  const Icon = side.thinking ? Brain : Zap
  // Re-render an answer's Markdown only when its text changed (the other side may stream).
  const answer = useMemo(
    () => (side.answer_md ? <Markdown latex={true}>{side.answer_md}</Markdown> : null),
    [side.answer_md]
  )
  return (
    <section
      className={`cmp-side${isKept ? " cmp-kept" : ""}`}
      data-side={side.key}
      data-status={side.status}
    >
      <header className="cmp-head">
        <span className="cmp-title">
          <Icon className="h-4 w-4" /> {side.label}
        </span>
        <Badge variant={streaming ? "secondary" : "outline"} className="cmp-status">
          {STATUS[side.status] || side.status}
        </Badge>
      </header>
      <Reasoning side={side} />
      <div className="cmp-answer">
        {answer ? (
          answer
        ) : streaming ? (
          <p className="cmp-muted">…</p>
        ) : null}
      </div>
      {side.error ? <p className="cmp-error" role="alert">{side.error}</p> : null}
      {side.note ? <p className="cmp-muted">{side.note}</p> : null}
      <Stats stats={side.stats} />
      <footer className="cmp-foot">
        {isKept ? (
          <span className="cmp-kept-label">
            <Check className="h-4 w-4" /> The chat continues from this answer
          </span>
        ) : (
          <Button
            size="sm"
            variant="outline"
            className="cmp-keep"
            disabled={!final || !side.answer.trim()}
            onClick={() => onKeep(side.key)}
          >
            Continue from this answer
          </Button>
        )}
      </footer>
    </section>
  )
}

export default function Compare() {
  const keepSide = (key) =>
    callAction({ name: props.keep_action, payload: { id: props.id, side: key } })
  return (
    <div className="cmp" id={`compare-${props.id}`} data-final={String(props.final)}>
      <div className="cmp-grid">
        {props.sides.map((side) => (
          <Side
            key={side.key}
            side={side}
            kept={props.kept}
            final={props.final}
            onKeep={keepSide}
          />
        ))}
      </div>
    </div>
  )
}
