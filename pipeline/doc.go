// Package pipeline is xling's stream runtime: stages that talk only through topics, each message one
// Arrow record batch (package schemas), with Kafka's ordering and commit contract whatever carries them.
//
// The pieces, in the order a newcomer meets them:
//
//   - A [Topic] is a topic's name and the schema of its data messages; [Topics] names a deployment's topics.
//   - A [Stage] is a handler of one input topic: Process gets the decoded rows of one message and hands
//     rows on with [Emit] (or dead-letters them with [Output.Reject]); End sees the stream-end markers that
//     close each (dataset, language, kind) stream, and Finish runs once the input has ended.
//   - [Run] runs a stage as a member of its consumer group: it fetches, decodes, counts ([Counts]:
//     In = Out + Dead), dead-letters what cannot be decoded, produces the output, and commits an offset only once
//     the output of every message before it is acknowledged, so a stage killed anywhere loses nothing.
//     It returns once every input partition has had a run-end marker from every upstream partition, and
//     passes the end on to its outputs.
//   - A [Source] is a stage with no input topic (ingest reading files): it fills an [Output], sends it,
//     and ends the run on its topics with [Source.EndRun].
//   - A [Worker] is what the stages of one run share: the [Transport], the topic names, the run id (every
//     message carries it, and a stage skips other runs' messages) and the allocator Arrow buffers come from.
//   - A [Transport] is what carries the messages: a [Broker] (a Kafka cluster through kafka-go, either
//     the embedded one [Connect] starts or a real one, with [Security] and [Retry]) or [Memory], which
//     keeps topics in memory for unit tests with the same contract.
//
// Examples below run a stage on Memory; package pipelinetest does the same for a stage's tests.
package pipeline
