import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTemplate } from './inspect.js';

const ctr = {
  Id: 'abc123',
  Name: '/web',
  State: { Status: 'running', Running: true, Pid: 4242, ExitCode: 0 },
  Config: { Image: 'busybox', Cmd: ['sh', '-c', 'echo <hi> & bye'], Labels: { zeta: '1', alpha: '2' }, Healthcheck: null },
};

test('field paths print their value', () => {
  assert.equal(formatTemplate('{{.State.Status}}', ctr), 'running');
  assert.equal(formatTemplate('{{ .State.Running }} {{.State.Pid}} {{.State.ExitCode}}', ctr), 'true 4242 0');
  assert.equal(formatTemplate('name={{.Name}} id={{.Id}}', ctr), 'name=/web id=abc123');
});

test('{{json .X}} is compact JSON without HTML escaping', () => {
  assert.equal(formatTemplate('{{json .Config}}', ctr), JSON.stringify(ctr.Config));
  assert.equal(formatTemplate('{{json .Config.Cmd}}', ctr), '["sh","-c","echo <hi> & bye"]');
  assert.equal(formatTemplate('{{json .}}', { a: 1 }), '{"a":1}');
  assert.equal(formatTemplate('{{json .Nope}}', ctr), 'null');
});

test('inspect\'s missingkey=error: a field docker\'s types lack fails where Go fails it; a key their maps lack is <no value>', () => {
  const strict = (tpl: string, v: unknown, rootType?: string) => formatTemplate(tpl, v, { missingKey: 'error', rootType });
  assert.throws(() => strict('{{.Nope}}', ctr), /^Error: template parsing error: template: :1:2: executing "" at <\.Nope>: map has no entry for key "Nope"$/);
  assert.throws(() => strict('{{ .State.Nope.X }}', ctr), /template: :1:9: executing "" at <\.State\.Nope\.X>: map has no entry for key "Nope"$/);
  assert.throws(() => strict('x\n{{$s := .State}}{{$s.Nope}}', ctr), /template: :2:20: executing "" at <\$s\.Nope>: map has no entry for key "Nope"$/);
  assert.throws(() => strict('{{.Config.Healthcheck.Test}}', ctr), /at <\.Config\.Healthcheck\.Test>: nil pointer evaluating interface \{\}\.Test$/);
  assert.equal(strict('{{.Config.Labels.nope}}', ctr), '<no value>');
  assert.throws(() => strict('{{.Gone}}', { Name: 'v' }, 'volume.Volume'), /can't evaluate field Gone in type volume\.Volume$/);
  assert.equal(strict('{{.Options.x}}', { Options: null }, 'volume.Volume'), '<no value>');
});

test('missing or null values print <no value>', () => {
  assert.equal(formatTemplate('{{.Nope}}', ctr), '<no value>');
  assert.equal(formatTemplate('{{.State.Nope}}', ctr), '<no value>');
  assert.equal(formatTemplate('{{.Config.Healthcheck}}', ctr), '<no value>');
});

test('slices and maps print as Go does: [a b], map[k:v] with sorted keys', () => {
  assert.equal(formatTemplate('{{.Config.Cmd}}', ctr), '[sh -c echo <hi> & bye]');
  assert.equal(formatTemplate('{{.Config.Labels}}', ctr), 'map[alpha:2 zeta:1]');
  assert.equal(formatTemplate('{{.State}}', { State: { b: [1, 2], a: { y: null } } }), 'map[a:map[y:<nil>] b:[1 2]]');
});

test('escaped \\n and \\t in the template become newline and tab', () => {
  assert.equal(formatTemplate('{{.Name}}\\t{{.State.Status}}\\n', ctr), '/web\trunning\n');
});
