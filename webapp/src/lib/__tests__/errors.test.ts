import { describe, expect, it } from 'vitest';
import { detailMessage } from '../errors';

describe('detailMessage', () => {
  it("uses the server's sentence as it is", () => {
    expect(detailMessage({ detail: 'You already have a workspace named x.' }, 409)).toBe(
      'You already have a workspace named x.',
    );
  });

  it("turns FastAPI's list of problems into one line", () => {
    const body = {
      detail: [
        { loc: ['body', 'compute', 'cpus'], msg: 'Input should be greater than 0' },
        { loc: ['query', 'tail'], msg: 'Input should be less than or equal to 10000' },
      ],
    };
    expect(detailMessage(body, 422)).toBe(
      'compute.cpus: Input should be greater than 0; query.tail: Input should be less than or equal to 10000',
    );
  });

  it('says what happened when there is no detail', () => {
    expect(detailMessage(undefined, 502)).toBe('The server answered with an error (HTTP 502). Try again in a moment.');
    expect(detailMessage(undefined, 0)).toMatch(/cannot be reached/);
  });
});
