package realtimetest

// Usage sums what the server actually sent on a call's sidebands: every
// response.done usage block, every transcription usage and every user
// speech segment. Tests compare an agent's accounting against it.
//
// An event counts as sent when at least one sideband was attached and one
// write of it succeeded; events emitted while no sideband is attached are
// lost, as in reality, and are not counted.
type Usage struct {
	Responses int            // response.done events sent
	ByStatus  map[string]int // response.done count per final status

	Total, Input, Output              int64
	InputText, InputAudio, InputImage int64

	InputCached, CachedText, CachedAudio, CachedImage int64

	OutputText, OutputAudio int64

	TranscriptionTokens  int64   // sum of tokens-kind transcription usage total_tokens
	TranscriptionSeconds float64 // sum of duration-kind transcription seconds
	UserSpeechMs         int64   // sum of audio_end_ms - audio_start_ms over segments whose start and stop were both sent
}

// add adds sign×d to u.
func (u *Usage) add(d *Usage, sign int) {
	s := int64(sign)
	u.Responses += sign * d.Responses
	for k, v := range d.ByStatus {
		if u.ByStatus == nil {
			u.ByStatus = map[string]int{}
		}
		u.ByStatus[k] += sign * v
		if u.ByStatus[k] == 0 {
			delete(u.ByStatus, k)
		}
	}
	u.Total += s * d.Total
	u.Input += s * d.Input
	u.Output += s * d.Output
	u.InputText += s * d.InputText
	u.InputAudio += s * d.InputAudio
	u.InputImage += s * d.InputImage
	u.InputCached += s * d.InputCached
	u.CachedText += s * d.CachedText
	u.CachedAudio += s * d.CachedAudio
	u.CachedImage += s * d.CachedImage
	u.OutputText += s * d.OutputText
	u.OutputAudio += s * d.OutputAudio
	u.TranscriptionTokens += s * d.TranscriptionTokens
	u.TranscriptionSeconds += float64(sign) * d.TranscriptionSeconds
	u.UserSpeechMs += s * d.UserSpeechMs
}

// clone returns a copy that shares no map with u; ByStatus is never nil.
func (u Usage) clone() Usage {
	m := make(map[string]int, len(u.ByStatus))
	for k, v := range u.ByStatus {
		m[k] = v
	}
	u.ByStatus = m
	return u
}

// responseUsage converts a response.done usage block into a Usage delta.
func responseUsage(status string, x *usageObj) *Usage {
	return &Usage{
		Responses:   1,
		ByStatus:    map[string]int{status: 1},
		Total:       x.TotalTokens,
		Input:       x.InputTokens,
		Output:      x.OutputTokens,
		InputText:   x.InputTokenDetails.TextTokens,
		InputAudio:  x.InputTokenDetails.AudioTokens,
		InputImage:  x.InputTokenDetails.ImageTokens,
		InputCached: x.InputTokenDetails.CachedTokens,
		CachedText:  x.InputTokenDetails.CachedTokensDetails.TextTokens,
		CachedAudio: x.InputTokenDetails.CachedTokensDetails.AudioTokens,
		CachedImage: x.InputTokenDetails.CachedTokensDetails.ImageTokens,
		OutputText:  x.OutputTokenDetails.TextTokens,
		OutputAudio: x.OutputTokenDetails.AudioTokens,
	}
}
