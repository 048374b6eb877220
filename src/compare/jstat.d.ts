// jstat ships no types; only what lem uses is declared here.
declare module "jstat" {
  interface Distribution {
    cdf(x: number, ...params: number[]): number;
    inv(p: number, ...params: number[]): number;
  }
  interface JStat {
    /** Student's t: cdf(x, dof), inv(p, dof). */
    studentt: Distribution;
    /** Normal: cdf(x, mean, std), inv(p, mean, std). */
    normal: Distribution;
  }
  const jStat: JStat & { jStat: JStat };
  export = jStat;
}
