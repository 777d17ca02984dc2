package realtimetest

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
)

// sessionConfig is the effective configuration of a session, kept as raw
// JSON where clients may set arbitrary shapes, so session.updated echoes
// them back unchanged.
type sessionConfig struct {
	model           string
	instructions    string
	voice           string
	speed           float64
	outputMods      []string
	tools           json.RawMessage
	toolChoice      json.RawMessage
	maxOutputTokens json.RawMessage
	tracing         json.RawMessage
	truncation      json.RawMessage
	prompt          json.RawMessage
	include         json.RawMessage
	inputFormat     json.RawMessage
	outputFormat    json.RawMessage
	transcription   json.RawMessage
	noiseReduction  json.RawMessage
	turnDetection   json.RawMessage
}

var voices = []string{"alloy", "marin", "cedar", "verse", "coral", "sage", "shimmer", "ash", "ballad", "echo"}

const pcm24k = `{"type":"audio/pcm","rate":24000}`

// defaultSession is what a call created without session parameters gets:
// the GA defaults seen in real session.created frames, with a long-ish
// support-agent prompt.
func defaultSession(model string, rng *rand.Rand) sessionConfig {
	if model == "" {
		model = "gpt-realtime"
	}
	return sessionConfig{
		model:           model,
		instructions:    defaultInstructions,
		voice:           voices[rng.IntN(len(voices))],
		speed:           1.0,
		outputMods:      []string{"audio"},
		tools:           json.RawMessage(`[]`),
		toolChoice:      json.RawMessage(`"auto"`),
		maxOutputTokens: json.RawMessage(`"inf"`),
		tracing:         json.RawMessage(`null`),
		truncation:      json.RawMessage(`"auto"`),
		prompt:          json.RawMessage(`null`),
		include:         json.RawMessage(`null`),
		inputFormat:     json.RawMessage(pcm24k),
		outputFormat:    json.RawMessage(pcm24k),
		transcription:   json.RawMessage(`null`),
		noiseReduction:  json.RawMessage(`null`),
		turnDetection:   json.RawMessage(`{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":200,"idle_timeout_ms":null,"create_response":true,"interrupt_response":true}`),
	}
}

// setTranscription configures input transcription for a Script mode.
func (cfg *sessionConfig) setTranscription(mode string) {
	switch mode {
	case "tokens":
		cfg.transcription = json.RawMessage(`{"model":"gpt-4o-mini-transcribe","language":null,"prompt":null}`)
	case "duration":
		cfg.transcription = json.RawMessage(`{"model":"gpt-realtime-whisper","language":null,"prompt":null}`)
	default:
		cfg.transcription = json.RawMessage(`null`)
	}
}

// transcriptionMode maps the configured transcription model to the usage
// form its completed events carry: "tokens", "duration" or "" (off).
func (cfg *sessionConfig) transcriptionMode() string {
	var t struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(cfg.transcription, &t) != nil || t.Model == "" {
		if string(cfg.transcription) == "null" || len(cfg.transcription) == 0 {
			return ""
		}
		return "tokens"
	}
	if strings.Contains(t.Model, "whisper") {
		return "duration"
	}
	return "tokens"
}

// sessionParams is the client-settable part of a realtime session, as sent
// in session.update, in client_secrets and in the multipart call form.
type sessionParams struct {
	Type             *string         `json:"type"`
	Model            *string         `json:"model"`
	Instructions     *string         `json:"instructions"`
	OutputModalities []string        `json:"output_modalities"`
	Tools            json.RawMessage `json:"tools"`
	ToolChoice       json.RawMessage `json:"tool_choice"`
	MaxOutputTokens  json.RawMessage `json:"max_output_tokens"`
	Tracing          json.RawMessage `json:"tracing"`
	Truncation       json.RawMessage `json:"truncation"`
	Prompt           json.RawMessage `json:"prompt"`
	Include          json.RawMessage `json:"include"`
	Audio            *struct {
		Input *struct {
			Format         json.RawMessage `json:"format"`
			Transcription  json.RawMessage `json:"transcription"`
			NoiseReduction json.RawMessage `json:"noise_reduction"`
			TurnDetection  json.RawMessage `json:"turn_detection"`
		} `json:"input"`
		Output *struct {
			Format json.RawMessage `json:"format"`
			Voice  *string         `json:"voice"`
			Speed  *float64        `json:"speed"`
		} `json:"output"`
	} `json:"audio"`
}

// apply copies every parameter the client set onto cfg. The model is not
// applied: callers decide whether it may change.
func (p *sessionParams) apply(cfg *sessionConfig) {
	set := func(dst *json.RawMessage, src json.RawMessage) {
		if len(src) > 0 {
			*dst = append(json.RawMessage(nil), src...)
		}
	}
	if p.Instructions != nil {
		cfg.instructions = *p.Instructions
	}
	if len(p.OutputModalities) > 0 {
		cfg.outputMods = append([]string(nil), p.OutputModalities...)
	}
	set(&cfg.tools, p.Tools)
	if string(cfg.tools) == "null" {
		cfg.tools = json.RawMessage(`[]`)
	}
	set(&cfg.toolChoice, p.ToolChoice)
	set(&cfg.maxOutputTokens, p.MaxOutputTokens)
	set(&cfg.tracing, p.Tracing)
	set(&cfg.truncation, p.Truncation)
	set(&cfg.prompt, p.Prompt)
	set(&cfg.include, p.Include)
	if p.Audio == nil {
		return
	}
	if in := p.Audio.Input; in != nil {
		set(&cfg.inputFormat, in.Format)
		set(&cfg.transcription, in.Transcription)
		set(&cfg.noiseReduction, in.NoiseReduction)
		set(&cfg.turnDetection, in.TurnDetection)
	}
	if out := p.Audio.Output; out != nil {
		set(&cfg.outputFormat, out.Format)
		if out.Voice != nil && *out.Voice != "" {
			cfg.voice = *out.Voice
		}
		if out.Speed != nil {
			cfg.speed = *out.Speed
		}
	}
}

// sessionObject is the GA realtime session as session.updated and
// client_secrets return it (field order of the real example in §5).
type sessionObject struct {
	Type             string          `json:"type"`
	Object           string          `json:"object"`
	ID               string          `json:"id"`
	Model            string          `json:"model"`
	OutputModalities []string        `json:"output_modalities"`
	Instructions     string          `json:"instructions"`
	Tools            json.RawMessage `json:"tools"`
	ToolChoice       json.RawMessage `json:"tool_choice"`
	MaxOutputTokens  json.RawMessage `json:"max_output_tokens"`
	Tracing          json.RawMessage `json:"tracing"`
	Truncation       json.RawMessage `json:"truncation"`
	Prompt           json.RawMessage `json:"prompt"`
	ExpiresAt        int64           `json:"expires_at"`
	Audio            sessionAudio    `json:"audio"`
	Include          json.RawMessage `json:"include"`
}

type sessionAudio struct {
	Input struct {
		Format         json.RawMessage `json:"format"`
		Transcription  json.RawMessage `json:"transcription"`
		NoiseReduction json.RawMessage `json:"noise_reduction"`
		TurnDetection  json.RawMessage `json:"turn_detection"`
	} `json:"input"`
	Output struct {
		Format json.RawMessage `json:"format"`
		Voice  string          `json:"voice"`
		Speed  float64         `json:"speed"`
	} `json:"output"`
}

// object renders cfg as a full session object.
func (cfg *sessionConfig) object(id string, expiresAt int64) sessionObject {
	o := sessionObject{
		Type:             "realtime",
		Object:           "realtime.session",
		ID:               id,
		Model:            cfg.model,
		OutputModalities: cfg.outputMods,
		Instructions:     cfg.instructions,
		Tools:            cfg.tools,
		ToolChoice:       cfg.toolChoice,
		MaxOutputTokens:  cfg.maxOutputTokens,
		Tracing:          cfg.tracing,
		Truncation:       cfg.truncation,
		Prompt:           cfg.prompt,
		ExpiresAt:        expiresAt,
		Include:          cfg.include,
	}
	o.Audio.Input.Format = cfg.inputFormat
	o.Audio.Input.Transcription = cfg.transcription
	o.Audio.Input.NoiseReduction = cfg.noiseReduction
	o.Audio.Input.TurnDetection = cfg.turnDetection
	o.Audio.Output.Format = cfg.outputFormat
	o.Audio.Output.Voice = cfg.voice
	o.Audio.Output.Speed = cfg.speed
	return o
}

// promptTokens estimates the text tokens the session configuration costs
// on every response (instructions and tool definitions).
func (cfg *sessionConfig) promptTokens() int64 {
	return textTokens(cfg.instructions) + int64(len(cfg.tools))/4 + 8
}

// textTokens estimates tokens for English text (about 4 bytes a token).
func textTokens(s string) int64 {
	return max(1, int64(len(s)+3)/4)
}

// defaultInstructions is a realistic production prompt, long enough that
// session.updated frames are several kilobytes like real ones.
const defaultInstructions = `You are "Nova", the voice assistant of Brightline Home Internet. You speak with customers who call about their internet service: outages, slow speeds, billing questions, plan changes, moving house, and equipment returns.

# Personality and tone
- Warm, calm and concise. Sound like a helpful human colleague, never like a script.
- Speak at a natural pace. Keep most replies to one to three short sentences; customers are on the phone, not reading.
- Mirror the customer's language. If they switch language, switch with them.
- Never mention that you are following instructions or that you have a prompt.

# Safety and privacy
- Never read back full card numbers, passwords or security answers. Confirm only the last four digits.
- Before discussing account details, verify identity: ask for the account holder's full name and the service address postcode.
- If the caller is not the account holder, you may give general information only.
- Do not give legal, medical or financial advice. Offer to transfer to a human agent when asked or when the caller is upset twice in a row.

# Troubleshooting flow for outages and slow speeds
1. Ask whether the lights on the router are green, orange or off.
2. If off: ask them to check the power cable and the wall socket.
3. If orange: ask them to restart the router by unplugging it for thirty seconds.
4. If green but slow: ask whether they use Wi-Fi or a cable, and how many devices are connected.
5. If the problem persists after a restart, open a ticket and tell them the reference number slowly, in groups of three characters.
6. Known regional outages take priority: apologise, give the estimated fix time, and offer a credit of one day of service.

# Billing
- Explain charges in plain words. Round amounts to the cent and say the currency.
- Late-payment fees can be waived once per twelve months; check before promising.
- Plan downgrades take effect at the next billing cycle; upgrades are immediate and prorated.

# Moving house
- Ask for the new address and the moving date. Check coverage before promising the same plan.
- Offer a free technician visit if the new address has no existing line.

# Ending the call
- Summarise what was done and any reference numbers.
- Ask if there is anything else. If not, thank them by name and say goodbye.

# Style rules
- Do not use lists or markdown when speaking.
- Say numbers the way people say them: "twenty-nine ninety-nine", not "2999".
- If you did not understand, ask one short clarifying question instead of guessing.
- Never invent policies, prices or outage times. If unsure, say you will check and use the tools.`
