package realtimetest

// userLines are what scripted callers say.
var userLines = []string{
	"Hi, my internet has been dropping every few minutes since this morning.",
	"Can you tell me why my bill went up this month?",
	"I'm moving next week and I want to take my plan with me.",
	"The router lights are orange, what does that mean?",
	"Yes, I already restarted it twice.",
	"It's Maria Gonzalez, postcode nine four one one zero.",
	"Okay, and how long will that take?",
	"No, I'm on Wi-Fi, about six devices I think.",
	"Could you waive the late fee? I was in hospital.",
	"I'd like to upgrade to the faster plan.",
	"Wait, sorry, can you repeat the reference number?",
	"That's everything, thanks a lot.",
	"Is there an outage in my area right now?",
	"My video calls keep freezing in the evening.",
	"I never asked for the premium support add-on.",
	"Can I return the old modem by post?",
	"Hmm, let me check. Yes, the cable is plugged in.",
	"Can I speak to a human, please?",
	"What's the cheapest plan you have?",
	"Great, that fixed it!",
}

// assistantLines are what the scripted assistant answers.
var assistantLines = []string{
	"I'm sorry about the drops. Let's fix that together. Could you tell me what colour the lights on your router are right now?",
	"Of course. I can see a one-time installation charge of twenty-nine ninety-nine on this bill, which is why it's higher than usual.",
	"Happy to help with your move. What's the new address, and which day are you moving?",
	"Orange usually means the router can't reach our network. Please unplug it for thirty seconds and plug it back in.",
	"Thanks for trying that. I've opened a ticket for a line check. Your reference is A-B-C, one-two-three.",
	"Thank you, Maria. You're verified. How can I help today?",
	"Our technicians usually resolve this within twenty-four hours. I'll text you as soon as it's done.",
	"Six devices on Wi-Fi is fine. Try moving the router off the floor and away from the microwave.",
	"I'm sorry to hear that. I've waived the late fee as a one-time courtesy.",
	"Done. The faster plan is active now, and the difference is prorated on your next bill.",
	"Sure. The reference number is A-B-C, one-two-three.",
	"You're welcome! Have a lovely evening.",
	"Yes, there's a known outage in your area. Engineers expect to fix it by six p.m., and I've added a one-day credit.",
	"Evening slowdowns often come from Wi-Fi congestion. Switching to the five gigahertz network usually helps.",
	"I see it was added last month. I've removed it and refunded the charge.",
	"Yes. I'll email you a prepaid return label right away.",
	"Good. Let's run a quick line test from my side. This takes about a minute.",
	"Of course. I'm transferring you to a colleague now. Please hold for a moment.",
	"Our basic plan is nineteen ninety-nine a month for up to one hundred megabits.",
	"Wonderful! Is there anything else I can help you with?",
}

// chaosErrors are non-fatal error events seen in real sessions.
var chaosErrors = []struct{ code, msg string }{
	{"conversation_already_has_active_response", "Conversation already has an active response in progress: %s. Wait until the response is finished before creating a new one."},
	{"response_cancel_not_active", "Cancellation failed: no active response found"},
	{"input_audio_buffer_commit_empty", "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 0.00ms of audio."},
}
