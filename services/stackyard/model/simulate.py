"""The deterministic "LLM": the same conversation always yields the same answer.

The answer names the turn (how many user messages the conversation holds), so a caller that
forgets to send the session history gets a visibly different answer.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    role: str
    content: str


def answer(messages: list[Message]) -> str:
    user_turns = [message.content for message in messages if message.role == "user"]
    if not user_turns:
        return "I have nothing to answer yet."
    text = f"Turn {len(user_turns)}: you said \"{user_turns[-1].strip()}\"."
    tool_results = [message.content.strip() for message in messages if message.role == "tool"]
    if tool_results:
        text += f" Using {'; '.join(tool_results)}."
    return text


def tokens(text: str) -> list[str]:
    """Split into word tokens that concatenate back to `text` (spaces stay with the next word)."""
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


def count_tokens(messages: list[Message]) -> int:
    return sum(len(message.content.split()) for message in messages)
