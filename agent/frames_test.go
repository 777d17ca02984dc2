package agent

import "strings"

// Realistic sideband frames, shaped like recorded OpenAI traffic
// (openai-realtime.md §5).
const (
	frameResponseDone = `{"type":"response.done","event_id":"event_CsZyNdzXT4hWhvq6Pv8ad","response":{"object":"realtime.response","id":"resp_CsZyL5IuqSgPEut0cI82K","status":"completed","status_details":null,"output":[{"id":"item_CsZyLdZ3sHZ2DniSNrTKs","type":"message","status":"completed","role":"assistant","content":[{"type":"output_audio","transcript":"Claro, dime qué es lo que tienes en mente. ¿Te gustaría conversar sobre algo en particular? Estoy aquí para ayudarte."}]}],"conversation_id":"conv_CsZyGLqmGCDohCYjjDPqf","output_modalities":["audio"],"max_output_tokens":"inf","audio":{"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy"}},"usage":{"total_tokens":320,"input_tokens":132,"output_tokens":188,"input_token_details":{"text_tokens":59,"audio_tokens":73,"image_tokens":0,"cached_tokens":64,"cached_tokens_details":{"text_tokens":0,"audio_tokens":64,"image_tokens":0}},"output_token_details":{"text_tokens":41,"audio_tokens":147}},"metadata":null}}`

	frameResponseCancelled = `{"type":"response.done","event_id":"event_2","response":{"object":"realtime.response","id":"resp_cancel1","status":"cancelled","status_details":{"type":"cancelled","reason":"turn_detected"},"output":[],"usage":{"total_tokens":100,"input_tokens":90,"output_tokens":10,"input_token_details":{"text_tokens":40,"audio_tokens":50,"image_tokens":0,"cached_tokens":0,"cached_tokens_details":{"text_tokens":0,"audio_tokens":0,"image_tokens":0}},"output_token_details":{"text_tokens":4,"audio_tokens":6}}}}`

	frameTranscriptDelta = `{"type":"response.output_audio_transcript.delta","event_id":"event_CsZyM1","response_id":"resp_CsZyL5IuqSgPEut0cI82K","item_id":"item_CsZyLdZ3sHZ2DniSNrTKs","output_index":0,"content_index":0,"delta":"Claro, dime"}`

	frameRateLimits = `{"type":"rate_limits.updated","event_id":"event_CsZyN1","rate_limits":[{"name":"tokens","limit":15000000,"remaining":14999680,"reset_seconds":0.001}]}`

	frameTranscriptionTokens = `{"type":"conversation.item.input_audio_transcription.completed","event_id":"event_t1","item_id":"item_1","content_index":0,"transcript":"Hola, ¿qué tal?","usage":{"type":"tokens","total_tokens":24,"input_tokens":16,"input_token_details":{"text_tokens":0,"audio_tokens":16},"output_tokens":8}}`

	frameTranscriptionDuration = `{"type":"conversation.item.input_audio_transcription.completed","event_id":"event_t2","item_id":"item_2","content_index":0,"transcript":"Hello","usage":{"type":"duration","seconds":3}}`

	frameSpeechStarted = `{"type":"input_audio_buffer.speech_started","event_id":"event_s1","audio_start_ms":1000,"item_id":"item_3"}`
	frameSpeechStopped = `{"type":"input_audio_buffer.speech_stopped","event_id":"event_s2","audio_end_ms":3500,"item_id":"item_3"}`

	frameError   = `{"type":"error","event_id":"event_890","error":{"type":"invalid_request_error","code":"invalid_event","message":"The 'type' field is missing.","param":null,"event_id":"event_567"}}`
	frameExpired = `{"type":"error","event_id":"event_x","error":{"type":"invalid_request_error","code":"session_expired","message":"Your session hit the maximum duration of 60 minutes.","param":null}}`
)

// bigSessionUpdated is a session.updated frame over 100 KB: long
// instructions and many tools, as real apps send.
func bigSessionUpdated() string {
	var tools strings.Builder
	for i := range 150 {
		if i > 0 {
			tools.WriteByte(',')
		}
		tools.WriteString(`{"type":"function","name":"tool_` + strings.Repeat("x", 8) + `","description":"` + strings.Repeat("Looks up a thing in the catalogue. ", 12) + `","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}`)
	}
	return `{"type":"session.updated","event_id":"event_E6U0wB3eiENYwSnJIBpFN","session":{"type":"realtime","object":"realtime.session","id":"sess_u1_ETYJSp3oMdsOb7HW9eMflgesrIs0XaTn","model":"gpt-realtime-2025-08-28","output_modalities":["audio"],"instructions":"` +
		strings.Repeat("You are a helpful, witty, and friendly AI. Answer briefly. ", 600) +
		`","tools":[` + tools.String() + `],"tool_choice":"auto","max_output_tokens":"inf","tracing":null,"truncation":"auto","prompt":null,"expires_at":1785217650,"audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"transcription":null,"noise_reduction":null,"turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":200,"idle_timeout_ms":null,"create_response":true,"interrupt_response":true}},"output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy","speed":1.0}},"include":null}}`
}
